"""Building bundles from a hospital's data: the bundle builder and its card text, schema
drafting, ONNX conversion, and the reproducible sample bundles.
"""

from caselens._lazy import lazy_face

__all__ = ["convert_model"]

_PARTS = {
    "convert_model": "onnx_convert",
}
__getattr__, __dir__ = lazy_face(globals(), _PARTS)
