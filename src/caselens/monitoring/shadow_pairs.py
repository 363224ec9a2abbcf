"""Reading a shadow candidate's rows with the live displays they were scored beside.

A candidate in shadow writes one never-shown row per live display it scored
(``never_shown`` true, ``paired_report_id`` the display's report id, written by a
``shadow_scored`` batch entry). :func:`read_pairs` joins each to its live display; the
figures are :mod:`.shadow_comparison`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from caselens.monitoring.figures.log_reading import link_outcomes
from caselens.monitoring.tables import prediction_log


@dataclass(frozen=True)
class Pair:
    """A live display and the candidate's never-shown prediction beside it.

    The patient, the case values and the time are the live row's (the candidate scored the
    same case at that moment); each side keeps its own version, probability and threshold.
    """

    model_id: str
    report_id: str
    patient_ref: str | None
    recorded_at: str
    recorded_on: str
    live_entry_seq: int | None
    live_bundle_sha256: str | None
    live_version: str
    live_probability: float
    live_threshold: float
    candidate_bundle_sha256: str
    candidate_version: str
    candidate_probability: float
    candidate_threshold: float
    shadow_batch_seq: int | None
    inputs_json: str


@dataclass(frozen=True)
class CandidateRows:
    """A version with never-shown rows for a model id: how many, and over which time."""

    bundle_sha256: str
    card_version: str
    rows: int
    first: str
    last: str


def shadow_versions(engine: Engine, model_id: str) -> list[CandidateRows]:
    """Every version with never-shown (shadow) rows for ``model_id``, newest rows first."""
    c = prediction_log.c
    query = (
        select(
            c.bundle_sha256,
            func.max(c.model_version),
            func.count(),
            func.min(c.recorded_at),
            func.max(c.recorded_at),
        )
        .where(c.model_id == model_id, c.never_shown.is_(True), c.simulated.is_(False))
        .group_by(c.bundle_sha256)
    )
    with engine.connect() as conn:
        found = [
            CandidateRows(sha, version, int(n), first, last)
            for sha, version, n, first, last in conn.execute(query)
            if sha is not None
        ]
    return sorted(found, key=lambda v: v.last, reverse=True)


def read_pairs(
    engine: Engine,
    model_id: str,
    candidate_sha: str,
    *,
    start: str | None = None,
    end: str | None = None,
) -> tuple[Pair, ...]:
    """The live display and the candidate's row of every report the candidate was scored
    beside, oldest display first.

    Live rows are displays (``never_shown`` false) and not simulated; a report displayed
    more than once (shown to the clinician and previewed for the patient) is one pair, its
    first display. ``start`` / ``end``: ISO times bounding the live display (``end``
    excluded), e.g. the governance report's periods.
    """
    live = prediction_log.alias("live")
    shadow = prediction_log.alias("shadow")
    conditions = [
        shadow.c.model_id == model_id,
        shadow.c.never_shown.is_(True),
        shadow.c.simulated.is_(False),
        shadow.c.bundle_sha256 == candidate_sha,
        live.c.model_id == model_id,
        live.c.never_shown.is_(False),
        live.c.simulated.is_(False),
    ]
    if start is not None:
        conditions.append(live.c.recorded_at >= start)
    if end is not None:
        conditions.append(live.c.recorded_at < end)
    query = (
        select(
            live.c.report_id,
            live.c.patient_ref,
            live.c.recorded_at,
            live.c.recorded_on,
            live.c.entry_seq,
            live.c.bundle_sha256,
            live.c.model_version,
            live.c.probability,
            live.c.threshold,
            shadow.c.bundle_sha256,
            shadow.c.model_version,
            shadow.c.probability,
            shadow.c.threshold,
            shadow.c.source_seq,
            live.c.inputs_json,
        )
        .select_from(live.join(shadow, shadow.c.paired_report_id == live.c.report_id))
        .where(*conditions)
        .order_by(live.c.id, shadow.c.id)
    )
    pairs: dict[str, Pair] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            if row[0] in pairs:
                continue  # the same report displayed again, or scored twice: one pair
            pairs[row[0]] = Pair(
                model_id=model_id,
                report_id=row[0],
                patient_ref=row[1],
                recorded_at=row[2],
                recorded_on=row[3],
                live_entry_seq=None if row[4] is None else int(row[4]),
                live_bundle_sha256=row[5],
                live_version=row[6],
                live_probability=float(row[7]),
                live_threshold=float(row[8]),
                candidate_bundle_sha256=row[9],
                candidate_version=row[10],
                candidate_probability=float(row[11]),
                candidate_threshold=float(row[12]),
                shadow_batch_seq=None if row[13] is None else int(row[13]),
                inputs_json=row[14],
            )
    return tuple(pairs.values())


def data_stamp(engine: Engine, model_id: str) -> tuple[Any, ...]:
    """What changes when anything a comparison of ``model_id`` reads changes: the count and
    largest id of its log rows, of its outcome rows, and of their corrections."""
    from caselens.monitoring.figures.log_reading import corrections_stamp
    from caselens.monitoring.tables import outcome_table

    c, o = prediction_log.c, outcome_table.c
    with engine.connect() as conn:
        rows = conn.execute(select(func.count(), func.max(c.id)).where(c.model_id == model_id))
        outcomes = conn.execute(select(func.count(), func.max(o.id)).where(o.model_id == model_id))
        corrections = conn.execute(corrections_stamp(model_id, False))
        return (*rows.one(), *outcomes.one(), *corrections.one())


def pair_outcomes(
    engine: Engine, model_id: str, pairs: Sequence[Pair], *, window_days: int
) -> np.ndarray:
    """Each pair's outcome (1, 0, or NaN while unknown), linked exactly as monitoring links
    a display's: an outcome of the same patient and model known within ``window_days`` of
    the display (:func:`caselens.monitoring.figures.link_outcomes`). Both versions judged
    the same patient, so one outcome serves both."""
    if not pairs:
        return np.array([], dtype=float)
    rows = pd.DataFrame(
        {
            "patient_ref": [p.patient_ref for p in pairs],
            "recorded_on": [p.recorded_on for p in pairs],
        }
    )
    with engine.connect() as conn:
        return link_outcomes(conn, model_id, rows, window_days=window_days, simulated=False)
