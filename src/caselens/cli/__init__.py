"""The ``caselens`` command: one thin module per command group, each calling the engine."""

from caselens._lazy import lazy_face

__all__ = ["main"]

_PARTS = {
    "main": "main",
}
__getattr__, __dir__ = lazy_face(globals(), _PARTS)
