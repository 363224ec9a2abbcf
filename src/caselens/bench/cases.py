"""Worst-case case uploads, each timed through the parser (``caselens bench cases``).

Each input is just under :data:`~caselens.explain.cases.MAX_UPLOAD_BYTES`, so the parser itself
(not the size check at the door) is what is timed: 80,000 keys, one key repeated, nesting
half a million deep, one huge value, a huge integer, brackets and escapes in a string, many
patients, a wide CSV, a huge cell, many rows and two valid cases padded to 1 MB. The target
is :data:`TARGET_MS` per input; each must end as a parsed case or a refusal, never another
exception.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from caselens.errors import CaseValidationError
from caselens.explain.cases import MAX_UPLOAD_BYTES, case_from_csv, case_from_json
from caselens.model.features import FeatureSchema
from caselens.settings import SAMPLE_MODELS_DIR

#: The most one upload may take to parse, in milliseconds.
TARGET_MS = 1_000.0
#: Bytes kept under the upload limit so every input reaches the parser.
_MARGIN = 64
#: Problems quoted per input in the output (a refusal may list hundreds).
_PROBLEMS_SHOWN = 3

Parser = Callable[[bytes, FeatureSchema], Any]


def _fill(unit: str, budget: int) -> int:
    """How many copies of ``unit`` fit in ``budget`` bytes."""
    return budget // len(unit.encode("utf-8"))


def _csv_row(inputs: dict[str, Any]) -> tuple[str, str]:
    header = ",".join(inputs)
    row = ",".join("" if v is None else str(v) for v in inputs.values())
    return header, row


def hostile_uploads(inputs: dict[str, Any]) -> dict[str, tuple[Parser, bytes]]:
    """Name → (parser, content) for each worst-case upload, built around one valid case.

    Parameters
    ----------
    inputs : dict
        A valid case's inputs (field → value), e.g. a sample bundle's first demo case.

    Returns
    -------
    dict
        Each content is at most ``MAX_UPLOAD_BYTES`` bytes.
    """
    budget = MAX_UPLOAD_BYTES - _MARGIN
    valid_json = json.dumps(inputs)
    header, row = _csv_row(inputs)
    first = next(iter(inputs))
    key_count = min(80_000, _fill('"k00000":1,', budget))
    uploads: dict[str, tuple[Parser, str]] = {
        "json_80000_keys": (
            case_from_json,
            "{" + ",".join(f'"k{i}":1' for i in range(key_count)) + "}",
        ),
        "json_one_key_repeated": (
            case_from_json,
            "{" + ",".join([f'"{first}":1'] * _fill(f'"{first}":1,', budget)) + "}",
        ),
        "json_deep_nesting": (case_from_json, "[" * (budget // 2) + "]" * (budget // 2)),
        "json_huge_string": (case_from_json, json.dumps({first: "x" * (budget - 100)})),
        "json_huge_integer": (case_from_json, f'{{"{first}": {"9" * (budget - 100)}}}'),
        "json_brackets_and_escapes_in_a_string": (
            case_from_json,
            f'{{"{first}": "' + '[\\"' * _fill('[\\"', budget - 100) + '"}',
        ),
        "json_many_patients": (
            case_from_json,
            "[" + ",".join([f'{{"{first}":1}}'] * _fill(f'{{"{first}":1}},', budget)) + "]",
        ),
        "json_valid_case_padded": (case_from_json, valid_json + " " * (budget - len(valid_json))),
        "csv_wide": (
            case_from_csv,
            ",".join(f"c{i}" for i in range(_fill("c000000,,", budget)))
            + "\n"
            + "," * (_fill("c000000,,", budget) - 1)
            + "\n",
        ),
        "csv_huge_cell": (
            case_from_csv,
            f"{header}\n{'x' * (budget - 2 * len(header) - 100)},{row.split(',', 1)[1]}\n",
        ),
        "csv_many_rows_cr_only": (
            case_from_csv,
            f"{header}\r" + f"{row}\r" * _fill(f"{row}\r", budget - len(header) - 1),
        ),
        "csv_rows_of_commas_only": (
            case_from_csv,
            f"{header}\n" + ",\n" * _fill(",\n", budget - len(header) - 1),
        ),
        "csv_valid_case_padded_cr_only": (
            case_from_csv,
            f"{header}\r{row}\r" + "\r" * (budget - len(header) - len(row) - 2),
        ),
    }
    return {name: (parse, text.encode("utf-8")) for name, (parse, text) in uploads.items()}


def _one_parse(parse: Parser, content: bytes, schema: FeatureSchema) -> tuple[float, str, list]:
    start = time.perf_counter()
    try:
        parse(content, schema)
    except CaseValidationError as exc:
        elapsed = 1000 * (time.perf_counter() - start)
        return elapsed, "refused", exc.problems
    except Exception as exc:  # reported, not raised: the bench shows every input's outcome
        elapsed = 1000 * (time.perf_counter() - start)
        return elapsed, f"error: {type(exc).__name__}", []
    return 1000 * (time.perf_counter() - start), "parsed", []


def bench_cases(
    model_id: str = "heart-disease", *, models_dir: Path = SAMPLE_MODELS_DIR, runs: int = 3
) -> list[dict[str, Any]]:
    """Parse each worst-case upload ``runs`` times against a sample model's schema.

    Parameters
    ----------
    model_id : str
        The sample bundle whose feature schema and first demo case are used.
    models_dir : Path
    runs : int
        Parses per input; the slowest is reported.

    Returns
    -------
    list of dict
        Per input: ``input``, ``bytes``, ``parse_ms`` (slowest run), ``outcome`` ('parsed',
        'refused' or 'error: …'), the first ``problems`` (``field: code``), and
        ``within_target`` (``parse_ms`` ≤ ``TARGET_MS``).
    """
    from caselens.model.bundle import DEMO_CASES_FILE, FEATURES_FILE, load_feature_schema

    folder = models_dir / model_id
    schema = load_feature_schema(folder / FEATURES_FILE)
    demos = json.loads((folder / DEMO_CASES_FILE).read_text(encoding="utf-8"))
    results = []
    for name, (parse, content) in hostile_uploads(dict(demos[0]["inputs"])).items():
        timings = [_one_parse(parse, content, schema) for _ in range(max(1, runs))]
        slowest = max(t[0] for t in timings)
        _, outcome, problems = timings[-1]
        results.append(
            {
                "input": name,
                "bytes": len(content),
                "parse_ms": round(slowest, 1),
                "outcome": outcome,
                "problems": [f"{p.field}: {p.code}" for p in problems[:_PROBLEMS_SHOWN]],
                "within_target": slowest <= TARGET_MS,
            }
        )
    return results
