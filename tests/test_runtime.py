"""The runtime builds the stores, the catalogue, the one explainer cache and the workflow
from one Settings, on real SQLite files in a temporary data folder."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from caselens.access import DEMO_PASSWORD
from caselens.audit import AuditKeyError
from caselens.explain.cases import validate_inputs
from caselens.explain.report import EXPLAINERS, ExplainerCache, explainer_for
from caselens.model import BundleCatalogue
from caselens.runtime import Runtime
from caselens.settings import SAMPLE_MODELS_DIR, Settings
from caselens.workflow import UserSession

HEART = "heart-disease"


@pytest.fixture()
def heart_models(tmp_path: Path) -> Path:
    models = tmp_path / "models"
    shutil.copytree(SAMPLE_MODELS_DIR / HEART, models / HEART)
    return models


def _settings(data: Path, **more: str) -> Settings:
    return Settings.from_environment({"CASELENS_DATA_DIR": str(data), "CASELENS_DEMO": "1", **more})


def _heart_case(runtime: Runtime):
    bundle = runtime.catalogue.bundles[HEART]
    demo = bundle.demo_cases[0]
    return validate_inputs(demo.inputs, bundle.features, source="demo", case_id=demo.case_id)


def test_a_runtime_on_an_empty_data_folder_shows_and_records_a_report(tmp_path, heart_models):
    data = tmp_path / "data"
    runtime = Runtime.from_settings(
        _settings(data, CASELENS_MODELS_DIR=str(heart_models)), background=False
    )
    try:
        workflow = runtime.workflow
        assert runtime.workflow is workflow  # built once
        assert list(runtime.catalogue.bundles) == [HEART]
        session = UserSession()
        workflow.sign_in(session, "dr.lee", DEMO_PASSWORD)  # demo mode seeded the accounts
        report = workflow.show_report(session, HEART, _heart_case(runtime), patient_ref="H-01")
        shown = runtime.audit_store.entries(action="viewed")
        assert [(e.actor_id, e.patient_ref) for e in shown] == [("dr.lee", "H-01")]
        assert report.report_id in shown[0].report_json
        assert runtime.audit_store.verify().ok
        assert runtime.audit_location == str(data.resolve() / "audit.sqlite")
        assert {"audit.sqlite", "audit.key", "app.sqlite", "sign_in.key"} <= {
            p.name for p in data.iterdir()
        }
        # The report came from the process's one explainer cache.
        assert runtime.explainers is EXPLAINERS
        assert runtime.explainer(HEART) is explainer_for(runtime.catalogue.bundles[HEART])
    finally:
        runtime.close()


def test_the_audit_settings_choose_the_trail_and_its_key(tmp_path, sample_bundles):
    trail = tmp_path / "elsewhere" / "trail.sqlite"
    trail.parent.mkdir()
    key = "5a" * 32
    settings = _settings(
        tmp_path / "data", CASELENS_AUDIT_URL=f"sqlite:///{trail}", CASELENS_AUDIT_KEY=key
    )
    catalogue = BundleCatalogue(bundles=dict(sample_bundles), refused={})
    runtime = Runtime.from_settings(settings, background=False, catalogue=catalogue)
    try:
        assert runtime.catalogue is catalogue  # a catalogue handed in is not loaded again
        session = UserSession()
        runtime.workflow.sign_in(session, "rev.kim", DEMO_PASSWORD)
        assert runtime.audit_store.signing_key == bytes.fromhex(key)
        assert trail.is_file() and not (tmp_path / "data" / "audit.sqlite").exists()
        assert runtime.audit_store.count() >= 1
    finally:
        runtime.close()


def test_a_trail_with_entries_but_no_key_is_refused_not_rekeyed(tmp_path, sample_bundles):
    data = tmp_path / "data"
    catalogue = BundleCatalogue(bundles=dict(sample_bundles), refused={})
    first = Runtime.from_settings(_settings(data), background=False, catalogue=catalogue)
    first.workflow.sign_in(UserSession(), "admin", DEMO_PASSWORD)
    first.close()
    (data / "audit.key").unlink()
    again = Runtime.from_settings(_settings(data), background=False, catalogue=catalogue)
    with pytest.raises(AuditKeyError, match=r"key file .* is missing"):
        again.audit_store  # noqa: B018  (opening is the act under test)


def test_parts_are_built_on_first_use_only(tmp_path):
    data = tmp_path / "data"
    runtime = Runtime.from_settings(_settings(data, CASELENS_MODELS_DIR=str(tmp_path / "none")))
    assert runtime.catalogue.bundles == {}  # a missing models folder offers nothing
    assert not data.exists()  # no store was opened for the catalogue
    assert runtime.app_database is runtime.app_database
    assert (data / "app.sqlite").is_file() and not (data / "audit.sqlite").exists()
    runtime.close()


def test_threads_asking_at_once_get_one_workflow(tmp_path, sample_bundles):
    catalogue = BundleCatalogue(bundles=dict(sample_bundles), refused={})
    runtime = Runtime.from_settings(
        _settings(tmp_path / "data"), background=False, catalogue=catalogue
    )
    got = []
    threads = [threading.Thread(target=lambda: got.append(runtime.workflow)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len(got) == 4 and all(w is got[0] for w in got)
    finally:
        runtime.close()


def test_estimate_first_is_read_again_when_a_reread_is_given(tmp_path, sample_bundles):
    now = {"setting": "on"}

    def reread() -> Settings:
        return Settings.from_environment({"CASELENS_ESTIMATE_FIRST": now["setting"]})

    runtime = Runtime.from_settings(_settings(tmp_path / "data"), reread=reread)
    assert runtime.estimate_first_for("dr.lee", "clinician") is True
    now["setting"] = "off"
    assert runtime.estimate_first_for("dr.lee", "clinician") is False
    fixed = Runtime.from_settings(_settings(tmp_path / "data", CASELENS_ESTIMATE_FIRST="off"))
    assert fixed.estimate_first_for("dr.lee", "clinician") is False


def test_an_explainer_cache_builds_each_bundles_explainer_once(heart_bundle):
    cache = ExplainerCache()
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.explainer(heart_bundle)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 1 and all(r is results[0] for r in results)
    assert cache.explainer(heart_bundle, warm=True) is results[0]


def test_the_background_check_follows_the_setting_and_stops_on_close(tmp_path, sample_bundles):
    catalogue = BundleCatalogue(bundles=dict(sample_bundles), refused={})
    off = Runtime.from_settings(
        _settings(tmp_path / "off", CASELENS_MONITOR_CHECK_SECONDS="off"), catalogue=catalogue
    )
    assert off.workflow is not None and off.monitoring_scheduler is None
    off.close()
    hourly = Runtime.from_settings(
        _settings(tmp_path / "on", CASELENS_MONITOR_CHECK_SECONDS="3600"), catalogue=catalogue
    )
    assert hourly.workflow is not None and hourly.monitoring_scheduler.alive
    scheduler = hourly.monitoring_scheduler
    hourly.close()
    assert not scheduler.alive and hourly.monitoring_scheduler is None
