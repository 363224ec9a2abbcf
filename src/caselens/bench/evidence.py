"""Benchmark of the evidence pack: build and offline verification time, and the pack's size,
for a segment of display entries shaped like real reports (~6 KB each)."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

from caselens.audit.checkpoints import read_checkpoints
from caselens.audit.evidence_format import day_bounds
from caselens.audit.evidence_pack import ModelCardFiles, build_evidence_pack
from caselens.audit.pack_verify import verify_pack
from caselens.audit.signing_keys import SigningKey
from caselens.audit.store import AuditStore
from caselens.bench.audit import _event, sample_report

#: Appended per transaction while the bench trail is built (speed of setup, not measured).
_BATCH = 1_000
_DAY = date(2026, 1, 1)


def bench_evidence(folder: str | Path, *, n_entries: int) -> dict[str, Any]:
    """Build a trail of ``n_entries`` display entries on one UTC day, then time the pack.

    Returns
    -------
    dict
        ``entries``, ``build_s``, ``verify_s``, ``pack_mb`` (compressed), ``inflated_mb``.
    """
    folder = Path(folder)
    key = bytes(range(32))
    report = sample_report(0)
    clock = lambda: "2026-01-01T12:00:00.000Z"  # noqa: E731 - every entry on the same day
    with AuditStore.open(
        folder / "audit.sqlite", key=key, clock=clock, checkpoint_file=folder / "cp.jsonl"
    ) as store:
        for start in range(0, n_entries, _BATCH):
            stop = min(n_entries, start + _BATCH)
            store.append_many(_event(i, report) for i in range(start, stop))
        since, until = day_bounds(_DAY, _DAY)
        signing_key = SigningKey.generate()
        began = time.perf_counter()
        entries = store.entries(since=since, until=until)
        pack = build_evidence_pack(
            entries,
            first_day=_DAY,
            last_day=_DAY,
            checkpoints=read_checkpoints(folder / "cp.jsonl"),
            signing_key=signing_key,
            retired_public_keys={},
            audit_key_ids={"current": store.key_id, "retired": []},
            # The one model version the bench entries name (no card: it is not loaded).
            models=[ModelCardFiles("heart-gbm", "1.4.0", "ab" * 32)],
            exported_at="2026-01-02T00:00:00.000Z",
            caselens_version="bench",
        )
        build_s = time.perf_counter() - began
    began = time.perf_counter()
    report_ = verify_pack(pack.data, public_key=signing_key.public_key)
    verify_s = time.perf_counter() - began
    inflated = sum(v["size"] for v in pack.manifest["files"].values())
    return {
        "bench": "evidence",
        "entries": len(entries),
        "verified": report_.ok,
        "build_s": round(build_s, 3),
        "verify_s": round(verify_s, 3),
        "pack_mb": round(len(pack.data) / 1e6, 2),
        "inflated_mb": round(inflated / 1e6, 2),
    }
