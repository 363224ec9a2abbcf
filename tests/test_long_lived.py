"""Long-lived objects are exempted from the garbage collector's passes, garbage is not, and
the app does it for what it keeps (bundles, explainers, the workflow)."""

from __future__ import annotations

import gc
import weakref

import pytest

from caselens.long_lived import freeze_long_lived


@pytest.fixture
def thawed():
    """Start with nothing frozen, and leave the test process that way."""
    gc.unfreeze()
    yield
    gc.unfreeze()


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_kept_objects_leave_the_collector_and_garbage_cycles_are_collected_first(thawed):
    kept = [_Node() for _ in range(1000)]
    cycle = _Node()
    cycle.other = _Node()
    cycle.other.other = cycle  # a reference cycle only the collector can free
    gone = weakref.ref(cycle)
    del cycle
    assert gone() is not None
    frozen = freeze_long_lived()
    assert gone() is None, "garbage was frozen instead of collected"
    assert frozen >= len(kept)
    tracked = {id(o) for o in gc.get_objects()}
    assert not any(id(node) in tracked for node in kept)
    # Objects made afterwards are collected as usual.
    later = _Node()
    later.other = later
    later_ref = weakref.ref(later)
    del later
    gc.collect()
    assert later_ref() is None


def test_a_frozen_object_is_still_freed_when_nothing_uses_it(thawed):
    kept = _Node()
    ref = weakref.ref(kept)
    freeze_long_lived()
    del kept  # reference counting frees it; freezing only concerns cycles
    assert ref() is None


@pytest.mark.usefixtures("app_env")
def test_the_app_freezes_what_it_keeps_once_a_report_is_shown(thawed):
    from app_helpers import signed_in

    assert gc.get_freeze_count() == 0
    at = signed_in("dr.lee")  # the Case page: the workflow, then a report for H-01
    assert not at.exception
    assert at.metric, "no report shown"
    assert gc.get_freeze_count() > 0
