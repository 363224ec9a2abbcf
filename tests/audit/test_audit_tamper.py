"""Tampering by raw SQL is detected, and the first bad entry is named with the right reason."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from audit_fixtures import ALTERABLE, KEY, build_trail, make_event, raw_engine, tamper
from caselens.audit import AuditStore, ChainBroken, verify_chain

CORPUS = json.loads((Path(__file__).parents[1] / "data" / "audit_tamper_cases.json").read_text())
N_RANDOM = 120
RANDOM_LENGTH = 30


@pytest.fixture(scope="module")
def corpus_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[int, str]]:
    path = tmp_path_factory.mktemp("corpus") / "template.sqlite"
    head = build_trail(path, CORPUS["trail_length"])
    return path, head


@pytest.fixture(scope="module")
def random_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[int, str]]:
    path = tmp_path_factory.mktemp("random") / "template.sqlite"
    head = build_trail(path, RANDOM_LENGTH)
    return path, head


def _copy(template: Path, target: Path) -> Path:
    # The template was closed cleanly, so its WAL is checkpointed into the main file.
    shutil.copy(template, target)
    return target


def _verify(path: Path, head: tuple[int, str]) -> ChainBroken | None:
    with AuditStore.open(path, key=KEY, create=False) as store:
        return store.verify(expected_head=head).broken


def test_untampered_template_verifies(corpus_template):
    path, head = corpus_template
    with AuditStore.open(path, key=KEY, create=False) as store:
        result = store.verify(expected_head=head)
    assert result.ok and result.count == CORPUS["trail_length"]


@pytest.mark.parametrize("case", CORPUS["cases"], ids=[c["name"] for c in CORPUS["cases"]])
def test_tamper_case_from_corpus_is_detected_at_first_bad_entry(case, corpus_template, tmp_path):
    path = _copy(corpus_template[0], tmp_path / "t.sqlite")
    tamper(raw_engine(path), case["op"], **case["args"])
    broken = _verify(path, corpus_template[1])
    assert broken is not None, case["description"]
    assert (broken.reason, broken.seq) == (case["expect"]["reason"], case["expect"]["seq"]), str(
        broken
    )


def _random_case(rng: random.Random, n: int) -> tuple[str, dict, str, int]:
    """One tampering and the (reason, seq) verification must report."""
    op = rng.choice(
        [
            "alter",
            "alter",
            "alter_and_rehash",
            "delete",
            "delete_and_renumber",
            "swap",
            "insert_forged",
            "append_forged",
            "resign",
            "truncate",
        ]
    )
    seq = rng.randint(1, n)
    if op == "alter":
        field = rng.choice(sorted(ALTERABLE))
        return op, {"seq": seq, "field": field}, ALTERABLE[field], seq
    if op == "alter_and_rehash":
        field = rng.choice(["actor_id", "action", "patient_ref", "report_json", "session_id"])
        return op, {"seq": seq, "field": field}, "bad_signature", seq
    if op == "delete":
        return op, {"seq": seq}, "truncated" if seq == n else "missing", seq
    if op == "delete_and_renumber":
        seq = rng.randint(1, n - 1)
        return op, {"seq": seq}, "missing", seq
    if op == "swap":
        a, b = sorted(rng.sample(range(1, n + 1), 2))
        return op, {"a": a, "b": b}, "reordered", a
    if op == "insert_forged":
        return op, {"seq": seq}, "inserted", seq
    if op == "append_forged":
        return op, {"seq": n + 1}, "bad_signature", n + 1
    if op == "resign":
        return op, {"seq": seq}, "bad_signature", seq
    keep = rng.randint(0, n - 1)
    return "truncate", {"keep": keep}, "truncated", keep + 1


def test_randomised_tamperings_are_all_detected_and_located(random_template, tmp_path):
    rng = random.Random(20261125)
    template, head = random_template
    failures = []
    for i in range(N_RANDOM):
        op, args, reason, seq = _random_case(rng, RANDOM_LENGTH)
        path = _copy(template, tmp_path / f"r{i}.sqlite")
        tamper(raw_engine(path), op, **args)
        broken = _verify(path, head)
        got = None if broken is None else (broken.reason, broken.seq)
        if got != (reason, seq):
            failures.append(f"{op} {args}: expected {(reason, seq)}, got {got}")
    assert not failures, "\n".join(failures)


def test_pure_verify_raises_typed_error_carrying_expected_and_found(corpus_template, tmp_path):
    path = _copy(corpus_template[0], tmp_path / "t.sqlite")
    tamper(raw_engine(path), "alter", seq=2, field="entry_hash", value="ab" * 32)
    with AuditStore.open(path, key=KEY, create=False) as store:
        entries = store.entries()
    with pytest.raises(ChainBroken, match="entry 2 is altered") as info:
        verify_chain(entries, key=KEY)
    assert info.value.expected == "ab" * 32 and info.value.found != info.value.expected


def test_verifying_with_another_key_fails_at_the_first_entry(corpus_template):
    with AuditStore.open(corpus_template[0], key=b"\x33" * 32, create=False) as store:
        broken = store.verify().broken
    assert broken is not None and (broken.reason, broken.seq) == ("bad_signature", 1)


def test_an_anchor_with_another_hash_is_reported_as_altered(corpus_template):
    with AuditStore.open(corpus_template[0], key=KEY, create=False) as store:
        broken = store.verify(expected_head=(5, "cd" * 32)).broken
    assert broken is not None and (broken.reason, broken.seq) == ("altered", 5)


def test_append_only_triggers_refuse_update_and_delete(corpus_template, tmp_path):
    path = _copy(corpus_template[0], tmp_path / "t.sqlite")
    engine = raw_engine(path)
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_entry SET actor_id = 'x' WHERE seq = 1")
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM audit_entry WHERE seq = 1")
    engine.dispose()


def test_a_break_in_a_large_trail_is_located_at_the_first_bad_entry(tmp_path):
    path = tmp_path / "big.sqlite"
    with AuditStore.open(path, key=KEY) as store:
        store.append_many(make_event(i) for i in range(15_000))
        head = store.head()
    tamper(raw_engine(path), "alter", seq=6_000, field="detail_json")
    tamper(raw_engine(path), "swap", a=12_000, b=14_000)
    broken = _verify(path, head)
    assert broken is not None and (broken.reason, broken.seq) == ("altered", 6_000)
