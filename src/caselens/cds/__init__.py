"""The CDS Hooks 2.0 service: an EHR asks on ``patient-view`` and gets a card.

A shell over the workflow, beside the app: every card is a display recorded through the door
before the response is sent.
"""

from caselens._lazy import lazy_face

__all__: list[str] = []

_PARTS: dict[str, str] = {}
__getattr__, __dir__ = lazy_face(globals(), _PARTS)
