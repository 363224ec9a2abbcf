"""Reading a FHIR record into a case, timed against the record's size (``caselens bench fhir``).

A synthetic record of the demo schema (:mod:`caselens.fhir.demo_schema`) is padded with copies
of its own clinical resources (R4B-built, re-dated over five years, some holding the inputs'
codes so the extraction does real work) to each entry count; :func:`read_fhir_bundle` and
:func:`case_from_record` are timed on it. Linear time shows as a flat time per entry: the
largest record's time per entry divided by the smallest's is ``per_entry_ratio``.
"""

from __future__ import annotations

import copy
import datetime
import json
import random
import statistics
import time
from typing import Any

from caselens.fhir import case_from_record, read_fhir_bundle
from caselens.fhir.demo_schema import CASE_DATE, DEMO_CASE, DEMO_SCHEMA
from caselens.fhir.synthetic import synthetic_record

#: Entry counts timed by default: a short stay's record up to a long chronic history.
DEFAULT_ENTRY_COUNTS = (500, 2_000, 8_000)
#: Time per entry of the largest record over the smallest's that still reads as linear
#: (fixed costs make small records slower per entry; a quadratic step would give ~16).
LINEAR_RATIO_LIMIT = 2.0
#: Days back over which padding resources are dated (five years of history).
HISTORY_DAYS = 5 * 365
_DATE_KEYS = (
    "effectiveDateTime",
    "onsetDateTime",
    "recordedDate",
    "performedDateTime",
    "authoredOn",
)


def padded_record(entries: int, *, seed: int = 0) -> bytes:
    """The demo case's synthetic record padded to ``entries`` entries with re-dated copies."""
    rng = random.Random(seed)
    bundle = json.loads(synthetic_record(DEMO_SCHEMA, DEMO_CASE, case_date=CASE_DATE, seed=seed))
    templates = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Patient"]
    padding = []
    for index in range(max(0, entries - len(bundle["entry"]))):
        entry = copy.deepcopy(templates[index % len(templates)])
        resource = entry["resource"]
        resource["id"] = f"history-{index}"
        entry["fullUrl"] = entry["fullUrl"].rsplit("/", 1)[0] + f"/history-{index}"
        day = CASE_DATE - datetime.timedelta(days=rng.randint(0, HISTORY_DAYS))
        for key in _DATE_KEYS:
            if key in resource:
                resource[key] = f"{day.isoformat()}T08:00:00Z"
        if "period" in resource:
            resource["period"] = {"start": day.isoformat(), "end": day.isoformat()}
        quantity = resource.get("valueQuantity")
        if quantity is not None:
            quantity["value"] = round(quantity["value"] * rng.uniform(0.9, 1.1), 2)
        padding.append(entry)
    bundle["entry"].extend(padding)
    if "total" in bundle:
        bundle["total"] = len(bundle["entry"])
    return json.dumps(bundle).encode()


def _timed(action: Any, runs: int) -> tuple[float, Any]:
    """Median milliseconds of ``runs`` calls, and the last call's result."""
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def bench_fhir(entry_counts: tuple[int, ...] = DEFAULT_ENTRY_COUNTS, runs: int = 3) -> list[dict]:
    """One figure row per entry count, then a summary row with ``per_entry_ratio``."""
    rows: list[dict[str, Any]] = []
    read_fhir_bundle(padded_record(50))  # load the R4B models and the unit registry first
    for count in entry_counts:
        data = padded_record(count)
        read_ms, record = _timed(lambda data=data: read_fhir_bundle(data), runs)
        extract_ms, intake = _timed(
            lambda record=record: case_from_record(DEMO_SCHEMA, record, case_date=CASE_DATE),
            runs,
        )
        total = read_ms + extract_ms
        rows.append(
            {
                "entries": count,
                "bytes": len(data),
                "read_ms": round(read_ms, 1),
                "extract_ms": round(extract_ms, 1),
                "total_ms": round(total, 1),
                "ms_per_entry": round(total / count, 4),
                "filled": len(intake.values()),
            }
        )
    ratio = rows[-1]["ms_per_entry"] / rows[0]["ms_per_entry"] if rows else 1.0
    rows.append(
        {
            "per_entry_ratio": round(ratio, 2),
            "linear_ratio_limit": LINEAR_RATIO_LIMIT,
            "linear": ratio <= LINEAR_RATIO_LIMIT,
        }
    )
    return rows
