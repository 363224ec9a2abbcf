"""Case files: a one-row CSV or a JSON object of inputs, read as untrusted data.

Parsing is linear in the file (duplicates counted, not searched for), bounded by the ``MAX_*``
limits, and any parser failure becomes a '(file)' problem, never a traceback."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from typing import Any

from caselens.errors import CaseValidationError
from caselens.explain.cases._quoting import _clip, _field_of, _shown
from caselens.explain.cases.fields import MAX_KEYS, MAX_VALUE_CHARS, validate_inputs
from caselens.explain.cases.records import Case, FieldProblem, _file_problem
from caselens.model.bounded import json_nesting_depth
from caselens.model.features import FeatureSchema

#: Bytes in one uploaded case file.
MAX_UPLOAD_BYTES = 1_000_000
#: Columns in a CSV header. A case has one column per input; the samples have 13 and 25.
MAX_COLUMNS = 500
#: Nesting of JSON arrays and objects. A case needs at most 3: ``[{"inputs": {…}}]``.
MAX_JSON_DEPTH = 10
#: Digits in a JSON integer that is turned into an int; longer ones stay text and are judged
#: as typed (always out of range), so Python's own digit limit is never reached.
MAX_JSON_INT_DIGITS = 100
#: Characters of a case reference (``case_id``).
MAX_CASE_ID_CHARS = 100


def _decode(content: bytes | str) -> str:
    if isinstance(content, str):
        # surrogatepass: a lone surrogate becomes bytes that fail below as "not UTF-8".
        content = content.encode("utf-8", "surrogatepass")
    if len(content) > MAX_UPLOAD_BYTES:
        raise _file_problem(
            "too_large",
            f"The file is {len(content):,} bytes; the limit for one case is "
            f"{MAX_UPLOAD_BYTES:,} bytes (1 MB).",
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _file_problem(
            "not_utf8",
            f"The file is not UTF-8 text (byte {exc.start} cannot be read); save "
            "it as UTF-8 and upload it again.",
        ) from exc
    if not text.strip():
        raise _file_problem("empty_file", "The file is empty; expected one patient's inputs.")
    return text


def _csv_rows(text: str, schema: FeatureSchema) -> tuple[list[list[str]], int]:
    """The first two non-empty rows and the number of non-empty rows, in one pass."""
    # newline="": the csv module then ends rows at CR, LF or CRLF (old Mac Excel saves CR).
    reader = csv.reader(io.StringIO(text, newline=""))
    kept: list[list[str]] = []
    count = 0
    # filter(None, …) skips blank lines in C: a 1 MB file of line ends stays fast.
    for row in filter(None, reader):
        if len(row) > MAX_COLUMNS:
            raise _file_problem(
                "too_large",
                f"Row {count + 1} of the file has {len(row):,} columns; expected one per "
                f"input of this model ({len(schema)}), and at most {MAX_COLUMNS:,}.",
            )
        if any(map(str.strip, row)):
            count += 1
            if len(kept) < 2:
                kept.append(row)
    return kept, count


def case_from_csv(content: bytes | str, schema: FeatureSchema) -> Case:
    """Parse a CSV with a header row and exactly one data row (CR, LF or CRLF line ends).

    Raises
    ------
    CaseValidationError
        For file problems (size, encoding, empty, too many columns, a value too long,
        duplicate columns, several rows, unreadable CSV) or field problems.
    """
    text = _decode(content)
    try:
        rows, count = _csv_rows(text, schema)
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise _file_problem(
                "too_large",
                f"A value in the file is longer than {csv.field_size_limit():,} characters; "
                f"each value can be at most {MAX_VALUE_CHARS:,} characters.",
            ) from exc
        raise _file_problem(
            "bad_format",
            f"The file could not be read as CSV ({_clip(str(exc))}); expected a header row "
            "and one row of values, separated by commas.",
        ) from exc
    except CaseValidationError:
        raise
    except Exception as exc:  # any parser failure is a message, not a traceback
        raise _file_problem(
            "bad_format",
            f"The file could not be read as CSV ({type(exc).__name__}); expected a header "
            "row and one row of values, separated by commas.",
        ) from exc
    if not rows:
        raise _file_problem("empty_file", "The file is empty; expected one patient's inputs.")
    header = [h.strip() for h in rows[0]]
    counts = Counter(header)
    duplicated = sorted(h for h, n in counts.items() if n > 1)
    if duplicated:
        raise CaseValidationError(
            [
                FieldProblem(
                    _field_of(h),
                    "duplicate_field",
                    f"Column {_shown(h)} appears {counts[h]} times; keep one.",
                )
                for h in duplicated
            ]
        )
    if count < 2:
        raise _file_problem(
            "empty_file", "The file has a header row but no patient row; expected one row."
        )
    if count > 2:
        raise _file_problem(
            "several_rows",
            f"The file has {count - 1} patient rows; upload one patient "
            "(one row under the header) at a time.",
        )
    row = rows[1]
    if len(row) != len(header):
        raise _file_problem(
            "bad_format",
            f"The header has {len(header)} columns but the patient row has "
            f"{len(row)}; check for a missing or extra comma.",
        )
    return validate_inputs(dict(zip(header, row, strict=True)), schema, source="csv")


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build one JSON object, refusing too many keys or a repeated key (json keeps the last)."""
    if len(pairs) > MAX_KEYS:
        raise _file_problem(
            "too_large",
            f"A JSON object in the file has {len(pairs):,} fields; a case has one per input, "
            f"at most {MAX_KEYS:,}.",
        )
    data = dict(pairs)
    if len(data) != len(pairs):
        counts = Counter(k for k, _ in pairs)
        raise CaseValidationError(
            [
                FieldProblem(
                    _field_of(k),
                    "duplicate_field",
                    f"Field {_shown(k)} appears {n} times; keep one.",
                )
                for k, n in sorted(counts.items())
                if n > 1
            ]
        )
    return data


def _json_int(digits: str) -> int | str:
    # Past the bound the digits stay text: judged as typed (out of range), and int() never
    # meets Python's 4,300-digit limit.
    return int(digits) if len(digits) <= MAX_JSON_INT_DIGITS else digits


def _json_float(text: str) -> float | str:
    return float(text) if len(text) <= MAX_VALUE_CHARS else text


def _case_id_problems(case_id: Any) -> list[FieldProblem]:
    if case_id is None:
        return []
    text = (
        str(case_id) if isinstance(case_id, str | int) and not isinstance(case_id, bool) else None
    )
    if text is None or not 0 < len(text) <= MAX_CASE_ID_CHARS or not text.isprintable():
        return [
            FieldProblem(
                "case_id",
                "bad_format",
                f"case_id: got {_shown(case_id)}; expected a reference of 1 to "
                f'{MAX_CASE_ID_CHARS} printable characters, e.g. "P-7".',
            )
        ]
    return []


def case_from_json(content: bytes | str, schema: FeatureSchema) -> Case:
    """Parse a JSON object of inputs, either flat or as ``{"case_id": …, "inputs": {…}}``.

    Raises
    ------
    CaseValidationError
        For file problems (size, encoding, empty, nesting deeper than ``MAX_JSON_DEPTH``,
        more than ``MAX_KEYS`` keys in an object, repeated keys, invalid JSON, several
        patients) or field problems.
    """
    text = _decode(content)
    depth = json_nesting_depth(text)
    too_deep = (
        f"The JSON is nested {{depth}} levels deep; a case needs at most 3 (a list around "
        f'an object with "inputs"), and the limit is {MAX_JSON_DEPTH}.'
    )
    if depth > MAX_JSON_DEPTH:
        raise _file_problem("too_large", too_deep.format(depth=f"{depth:,}"))
    try:
        data = json.loads(
            text, object_pairs_hook=_json_object, parse_int=_json_int, parse_float=_json_float
        )
    except CaseValidationError:
        raise
    except json.JSONDecodeError as exc:
        raise _file_problem(
            "bad_format",
            f"The file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).",
        ) from exc
    except RecursionError as exc:
        # Should not happen after the depth check; kept so no input can reach a traceback.
        raise _file_problem("too_large", too_deep.format(depth="too many")) from exc
    except Exception as exc:  # any parser failure is a message, not a traceback
        raise _file_problem(
            "bad_format",
            f"The file could not be read as JSON ({type(exc).__name__}); expected one object "
            "of field names and values.",
        ) from exc
    if isinstance(data, list):
        if len(data) != 1:
            raise _file_problem(
                "several_rows" if data else "empty_file",
                f"The JSON holds {len(data)} patients; expected exactly one object.",
            )
        data = data[0]
    if not isinstance(data, dict):
        raise _file_problem("bad_format", "Expected a JSON object of field names and values.")
    case_id = None
    if isinstance(data.get("inputs"), dict):
        case_id = data.get("case_id")
        data = data["inputs"]
    id_problems = _case_id_problems(case_id)
    try:
        case = validate_inputs(
            data, schema, source="json", case_id=str(case_id) if case_id is not None else None
        )
    except CaseValidationError as exc:
        raise CaseValidationError([*exc.problems, *id_problems]) from None
    if id_problems:
        raise CaseValidationError(id_problems)
    return case


def case_from_upload(filename: str, content: bytes, schema: FeatureSchema) -> Case:
    """Parse an uploaded file by its extension (.csv or .json)."""
    lowered = filename.lower()
    if lowered.endswith(".csv"):
        return case_from_csv(content, schema)
    if lowered.endswith(".json"):
        return case_from_json(content, schema)
    raise _file_problem(
        "bad_format", f"{_shown(filename)} is neither .csv nor .json; upload one of those."
    )
