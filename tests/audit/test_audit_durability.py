"""Crashes and concurrent writer processes never lose a returned append or fork the chain."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time

import pytest

from audit_fixtures import KEY, ROOT, child_command
from caselens.audit import AuditStore

KILLS = 20
WRITERS = 8
PER_WRITER = 500


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")])
    return env


def _read_lines(child: subprocess.Popen, into: list[str]) -> None:
    into.extend(child.stdout)


@pytest.mark.slow
def test_appends_reported_before_sigkill_survive_and_the_chain_verifies(tmp_path):
    path = tmp_path / "audit.sqlite"
    AuditStore.open(path, key=KEY).close()
    rng = random.Random(7)
    reported: dict[int, str] = {}
    for _ in range(KILLS):
        child = subprocess.Popen(
            child_command("append-loop", str(path), KEY.hex()),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        lines: list[str] = []
        reader = threading.Thread(target=_read_lines, args=(child, lines), daemon=True)
        reader.start()
        # Wait for the child to be appending, then kill it at a random moment.
        deadline = time.monotonic() + 20
        while not lines and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.005)
        assert lines, f"the child never appended: {child.stderr.read() if child.poll() else ''}"
        time.sleep(rng.uniform(0.0, 0.15))
        child.send_signal(signal.SIGKILL)
        child.wait()
        reader.join(5)
        for line in lines:
            if not line.endswith("\n"):
                continue  # cut short by the kill: never reported
            seq, entry_hash = line.split()
            reported[int(seq)] = entry_hash
    with AuditStore.open(path, key=KEY, create=False) as store:
        result = store.verify()
        assert result.ok, result.summary()
        stored = {e.seq: e.entry_hash for e in store.entries()}
    missing = {s: h for s, h in reported.items() if stored.get(s) != h}
    assert not missing, f"{len(missing)} appends reported as returned are not stored"
    assert len(reported) >= KILLS


@pytest.mark.slow
def test_concurrent_writer_processes_build_one_linear_chain(tmp_path):
    path = tmp_path / "audit.sqlite"
    AuditStore.open(path, key=KEY).close()
    children = [
        subprocess.Popen(
            child_command("append-n", str(path), KEY.hex(), str(PER_WRITER), str(w)),
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for w in range(WRITERS)
    ]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    with AuditStore.open(path, key=KEY, create=False) as store:
        result = store.verify()
        entries = store.entries()
    assert result.ok, result.summary()
    assert result.count == WRITERS * PER_WRITER == len(entries)
    for w in range(WRITERS):
        mine = [e.detail()["i"] for e in entries if e.actor_id == f"writer-{w}"]
        assert mine == list(range(PER_WRITER))  # each writer's entries in its own order
