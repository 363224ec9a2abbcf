"""Helpers for the audit tests: events, a template trail, raw-SQL tampering, child writers.

Run as a script it is the child process of the crash and concurrency tests:

    python tests/audit_fixtures.py append-loop URL KEYHEX          # append until killed
    python tests/audit_fixtures.py append-n URL KEYHEX N WRITER    # append N, then exit
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

from caselens.audit import AuditEvent, AuditStore, seal
from caselens.audit.chain import GENESIS_HASH
from caselens.audit.records import ENTRY_FIELDS, AuditEntry

KEY = bytes.fromhex("11" * 32)
WRONG_KEY = bytes.fromhex("22" * 32)
ROOT = Path(__file__).resolve().parents[1]
SELF = Path(__file__).resolve()

# Columns an attacker may change in place, with the reason verification must give.
ALTERABLE = {
    "recorded_at": "altered",
    "actor_id": "altered",
    "actor_name": "altered",
    "actor_role": "altered",
    "audience": "altered",
    "action": "altered",
    "patient_ref": "altered",
    "model_id": "altered",
    "model_version": "altered",
    "model_sha256": "altered",
    "report_json": "altered",
    "rendered_digest": "altered",
    "session_id": "altered",
    "detail_json": "altered",
    "prev_hash": "altered",
    "entry_hash": "altered",
    "hmac": "bad_signature",
}


def make_event(i: int, **overrides: Any) -> AuditEvent:
    """A display event with a small report; ``i`` varies every field."""
    fields: dict[str, Any] = {
        "actor_id": f"u{i % 3}",
        "actor_name": f"Dr Ünal {i % 3}",
        "actor_role": "clinician" if i % 4 else "reviewer",
        "audience": "clinician" if i % 4 else "reviewer",
        "action": ("viewed", "patient_viewed", "replayed", "feedback")[i % 4],
        "patient_ref": f"P-{i % 5:04d}",
        "model_id": "heart-gbm" if i % 2 else "diabetes-lr",
        "model_version": f"1.{i % 3}.0",
        "model_sha256": f"{i % 16:x}" * 64,
        "report": {"case": i, "probability": 0.01 * (i % 100), "drivers": ["age", "bmi"]},
        "rendered_digest": f"{(i + 1) % 16:x}" * 64,
        "session_id": f"s-{i % 7}",
        "detail": {"note": "ok"} if i % 4 == 3 else None,
    }
    fields.update(overrides)
    return AuditEvent(**fields)


def build_trail(location: str | Path, n: int, *, key: bytes = KEY) -> tuple[int, str]:
    """Create a trail of ``n`` entries with increasing times; return its head."""
    ticks = iter(range(10**9))

    def clock() -> str:
        t = next(ticks)
        return f"2026-01-01T00:{t // 60000 % 60:02d}:{t // 1000 % 60:02d}.{t % 1000:03d}Z"

    with AuditStore.open(location, key=key, clock=clock) as store:
        for i in range(n):
            store.append(make_event(i))
        return store.head()


# -- raw-SQL tampering (what an attacker with database access can do) ------------------------


def raw_engine(location: str | Path) -> Engine:
    location = str(location)
    return create_engine(location if "://" in location else f"sqlite:///{location}")


def drop_guards(engine: Engine) -> None:
    """Remove the append-only triggers, as an attacker with write access would."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_entry_no_update")
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_entry_no_delete")
        else:
            conn.exec_driver_sql("ALTER TABLE audit_entry DISABLE TRIGGER USER")


def read_row(engine: Engine, seq: int) -> AuditEntry:
    with engine.connect() as conn:
        row = conn.execute(
            text(f"SELECT {', '.join(ENTRY_FIELDS)} FROM audit_entry WHERE seq = :s"), {"s": seq}
        ).one()
    return AuditEntry(*row)


def _write_row(conn: Any, entry: AuditEntry) -> None:
    cols = ", ".join(ENTRY_FIELDS)
    params = ", ".join(f":{c}" for c in ENTRY_FIELDS)
    conn.execute(
        text(f"INSERT INTO audit_entry ({cols}) VALUES ({params})"),
        {c: getattr(entry, c) for c in ENTRY_FIELDS},
    )


def _shift(conn: Any, from_seq: int, by: int) -> None:
    # Two steps through negative numbers: a single UPDATE can collide on the primary key.
    conn.execute(
        text("UPDATE audit_entry SET seq = -(seq + :b) WHERE seq >= :s"), {"b": by, "s": from_seq}
    )
    conn.execute(text("UPDATE audit_entry SET seq = -seq WHERE seq < 0"))


def tamper(engine: Engine, op: str, **args: Any) -> None:
    """Apply one tampering by raw SQL. ``op`` names the mode; see the corpus file."""
    drop_guards(engine)
    with engine.begin() as conn:
        if op == "alter":
            seq, field = args["seq"], args["field"]
            old = getattr(read_row(engine, seq), field)
            value = args.get("value") or _different(field, old)
            conn.execute(
                text(f"UPDATE audit_entry SET {field} = :v WHERE seq = :s"), {"v": value, "s": seq}
            )
        elif op == "alter_and_rehash":
            # Change content and recompute the hash, but without the key: the HMAC is stale.
            old = read_row(engine, args["seq"])
            new = _replace(
                old, args["field"], _different(args["field"], getattr(old, args["field"]))
            )
            from caselens.audit import hash_of

            conn.execute(
                text(
                    f"UPDATE audit_entry SET {args['field']} = :v, entry_hash = :h WHERE seq = :s"
                ),
                {"v": getattr(new, args["field"]), "h": hash_of(new), "s": old.seq},
            )
        elif op == "delete":
            conn.execute(text("DELETE FROM audit_entry WHERE seq = :s"), {"s": args["seq"]})
        elif op == "delete_and_renumber":
            conn.execute(text("DELETE FROM audit_entry WHERE seq = :s"), {"s": args["seq"]})
            _shift(conn, args["seq"] + 1, -1)
        elif op == "truncate":
            conn.execute(text("DELETE FROM audit_entry WHERE seq > :s"), {"s": args["keep"]})
        elif op == "swap":
            a, b = read_row(engine, args["a"]), read_row(engine, args["b"])
            cols = [c for c in ENTRY_FIELDS if c != "seq"]
            sets = ", ".join(f"{c} = :{c}" for c in cols)
            for target, source in ((a.seq, b), (b.seq, a)):
                conn.execute(
                    text(f"UPDATE audit_entry SET {sets} WHERE seq = :target"),
                    {"target": target, **{c: getattr(source, c) for c in cols}},
                )
        elif op in ("insert_forged", "append_forged"):
            at = args["seq"]
            prev = read_row(engine, at - 1).entry_hash if at > 1 else GENESIS_HASH
            forged = seal(
                make_event(10_000 + at, actor_id="mallory"),
                seq=at,
                prev_hash=prev,
                recorded_at=read_row(engine, max(at - 1, 1)).recorded_at,
                key=WRONG_KEY,
            )
            if op == "insert_forged":
                _shift(conn, at, 1)
            _write_row(conn, forged)
        elif op == "resign":
            row = read_row(engine, args["seq"])
            from caselens.audit import sign

            conn.execute(
                text("UPDATE audit_entry SET hmac = :h WHERE seq = :s"),
                {"h": sign(row.entry_hash, key=WRONG_KEY), "s": row.seq},
            )
        else:
            raise ValueError(f"unknown tamper op {op!r}")


def _replace(entry: AuditEntry, field: str, value: Any) -> AuditEntry:
    from dataclasses import replace

    return replace(entry, **{field: value})


def _different(field: str, old: Any) -> str:
    if field in ("prev_hash", "entry_hash", "hmac", "model_sha256", "rendered_digest"):
        return ("f" if not (old or "").startswith("f") else "e") * 64
    if field in ("report_json", "detail_json"):
        return '{"tampered":true}' if old != '{"tampered":true}' else "{}"
    if field == "recorded_at":
        return "2025-12-31T23:59:59.999Z"
    return f"tampered-{old}"


# -- child processes -------------------------------------------------------------------------


def child_command(*args: str) -> list[str]:
    return [sys.executable, str(SELF), *args]


def _main(argv: list[str]) -> None:
    mode, location, key_hex = argv[:3]
    key = bytes.fromhex(key_hex)
    store = AuditStore.open(location, key=key)
    if mode == "append-loop":
        i = 0
        while True:
            entry = store.append(make_event(i))
            # Printed only after append returned: the parent may rely on every printed seq.
            sys.stdout.write(f"{entry.seq} {entry.entry_hash}\n")
            sys.stdout.flush()
            i += 1
    elif mode == "append-n":
        n, writer = int(argv[3]), argv[4]
        for i in range(n):
            store.append(make_event(i, actor_id=f"writer-{writer}", detail={"i": i}))
        store.close()
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    _main(sys.argv[1:])
