"""Model suspension: recorded state with a required reason."""

from __future__ import annotations

import pytest

from caselens.app_database import open_app_database
from caselens.errors import CaseLensError
from caselens.model_status import ModelStatusStore, check_reason


def test_a_model_is_active_until_suspended_and_can_be_reinstated(tmp_path):
    store = ModelStatusStore(open_app_database(tmp_path))
    assert not store.get("heart-disease").suspended
    suspended = store.set(
        "heart-disease", suspended=True, reason="  Calibration drift  ", by="admin"
    )
    assert suspended.suspended and suspended.reason == "Calibration drift"
    assert "Reason: Calibration drift" in suspended.message()
    assert not store.set(
        "heart-disease", suspended=False, reason="Recalibrated and checked", by="admin"
    ).suspended


def test_a_short_reason_is_refused_and_nothing_changes(tmp_path):
    store = ModelStatusStore(open_app_database(tmp_path))
    with pytest.raises(CaseLensError, match="at least 10 characters"):
        store.set("heart-disease", suspended=True, reason="  because ", by="admin")
    assert not store.get("heart-disease").suspended
    with pytest.raises(CaseLensError, match="Reason: say why"):
        check_reason("short")
