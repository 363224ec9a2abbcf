"""Building bundles from a hospital's data: the bundle builder and its card text, schema
drafting, ONNX conversion, FHIR mapping files, and the reproducible sample bundles.
"""

from caselens._lazy import lazy_face

__all__ = ["convert_model", "merge_fhir_mappings", "read_fhir_mapping_file"]

_PARTS = {
    "convert_model": "onnx_convert",
    "merge_fhir_mappings": "fhir_mapping_file",
    "read_fhir_mapping_file": "fhir_mapping_file",
}
__getattr__, __dir__ = lazy_face(globals(), _PARTS)
