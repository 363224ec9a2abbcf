"""One patient's inputs: parsed from a form, a one-row CSV or JSON, and checked field by field.

Every problem is collected before anything is returned, so the clinician sees them all at
once; a case with any refusal raises :class:`~caselens.errors.CaseValidationError` and
nothing is half-applied. Values outside the training range are accepted but carried as
flags for the out-of-distribution checks.

Case files are untrusted: parsing is linear in the file (duplicates counted, not searched
for), bounded by the ``MAX_*`` limits, and any parser failure becomes a '(file)'
problem, never a traceback. Numbers are plain decimals only; what was typed is quoted back
cut to ``SHOWN_CHARS`` with unprintable characters escaped.

The package: :mod:`.records` (the :class:`Case` and its problems and flags), :mod:`.fields`
(:func:`validate_inputs` and the per-field checks), :mod:`.files` (the CSV and JSON readers),
:mod:`.record_sources` (where each value of a case read from a FHIR record came from),
:mod:`.hypothetical` (a what-if or counterfactual case: its parent and what changed);
:mod:`._quoting` quotes typed text back safely.
"""

from caselens._lazy import lazy_face

__all__ = [
    "FROM_RECORD",
    "HYPOTHETICAL_LABEL",
    "INFINITE_TEXT",
    "MAX_CASE_ID_CHARS",
    "MAX_COLUMNS",
    "MAX_JSON_DEPTH",
    "MAX_JSON_INT_DIGITS",
    "MAX_KEYS",
    "MAX_SOURCES_PER_FIELD",
    "MAX_UPLOAD_BYTES",
    "MAX_VALUE_CHARS",
    "MISSING_RARE_SHARE",
    "MISSING_TEXT",
    "NOT_A_NUMBER_TEXT",
    "PLAIN_NUMBER",
    "RARE_CATEGORY_MIN_COUNT",
    "RARE_CATEGORY_SHARE",
    "SHOWN_CHARS",
    "STATUS_WORDS",
    "TABLE_COLUMNS",
    "TO_ENTER_BY_HAND",
    "Case",
    "ChangedValue",
    "FieldFlag",
    "FieldProblem",
    "FieldSource",
    "FlagCode",
    "Hypothetical",
    "ProblemCode",
    "RecordSources",
    "RecordStatus",
    "SourceResourceRef",
    "case_from_csv",
    "case_from_json",
    "case_from_upload",
    "validate_inputs",
]

_PARTS = {
    "INFINITE_TEXT": "fields",
    "MAX_CASE_ID_CHARS": "files",
    "MAX_COLUMNS": "files",
    "MAX_JSON_DEPTH": "files",
    "MAX_JSON_INT_DIGITS": "files",
    "MAX_KEYS": "fields",
    "MAX_UPLOAD_BYTES": "files",
    "MAX_VALUE_CHARS": "fields",
    "MISSING_RARE_SHARE": "fields",
    # The schema's words for "not recorded", which the checks read; imported from here before
    # the split.
    "MISSING_TEXT": "fields",
    "NOT_A_NUMBER_TEXT": "fields",
    "PLAIN_NUMBER": "fields",
    "RARE_CATEGORY_MIN_COUNT": "fields",
    "RARE_CATEGORY_SHARE": "fields",
    "SHOWN_CHARS": "_quoting",
    "FROM_RECORD": "record_sources",
    "HYPOTHETICAL_LABEL": "hypothetical",
    "ChangedValue": "hypothetical",
    "Hypothetical": "hypothetical",
    "MAX_SOURCES_PER_FIELD": "record_sources",
    "STATUS_WORDS": "record_sources",
    "TABLE_COLUMNS": "record_sources",
    "TO_ENTER_BY_HAND": "record_sources",
    "Case": "records",
    "FieldFlag": "records",
    "FieldSource": "record_sources",
    "FieldProblem": "records",
    "FlagCode": "records",
    "ProblemCode": "records",
    "RecordSources": "record_sources",
    "RecordStatus": "record_sources",
    "SourceResourceRef": "record_sources",
    "case_from_csv": "files",
    "case_from_json": "files",
    "case_from_upload": "files",
    "validate_inputs": "fields",
}
__getattr__, __dir__ = lazy_face(globals(), _PARTS)
