"""Shared fixtures: the real sample bundles, loaded once per session, and copies to tamper with;
one throwaway PostgreSQL server for the whole session."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from caselens.model.bundle import ModelBundle, load_bundle
from caselens.settings import SAMPLE_MODELS_DIR
from postgres_server import PostgresServer, PostgresUnavailable, in_ci, start_server

SAMPLE_IDS = ("readmission-30d", "heart-disease")
#: The samples' second versions: bundle folders serving the same model ids (issue 27).
SAMPLE_V2_FOLDERS = ("readmission-30d-v2", "heart-disease-v2")
#: The browser tests share one Streamlit server and one Chromium per process: under pytest-xdist
#: (``make test``) the whole folder is one unit of work, run first, on one worker, while the other
#: workers take the rest file by file (a file is never split: its module-scoped servers and
#: fixtures start once).
BROWSER_FOLDER = "tests/browser/"


def _work_unit(nodeid: str) -> str:
    """The unit of work a test belongs to under pytest-xdist: the browser folder, else its file."""
    path = nodeid.split("::", 1)[0]
    return BROWSER_FOLDER if path.startswith(BROWSER_FOLDER) else path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """Under ``-n N`` (``--dist load``, xdist's default, or ``loadfile``): schedule by
    ``_work_unit``, in collection order (the browser folder first: it is the longest unit, so
    it starts first and the files fill the other workers around it)."""
    if config.getoption("dist") not in ("load", "loadfile"):
        return None  # an explicit other mode (--dist each, worksteal …) is kept
    from xdist.scheduler import LoadScopeScheduling

    class SuiteScheduling(LoadScopeScheduling):
        def __init__(self, config: pytest.Config, log: object = None) -> None:
            super().__init__(config, log)
            config.option.loadscopereorder = False  # keep the collection order below

        def _split_scope(self, nodeid: str) -> str:
            return _work_unit(nodeid)

    return SuiteScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist, the browser tests first (their order kept); otherwise untouched."""
    if not hasattr(config, "workerinput"):
        return
    items.sort(key=lambda item: not item.nodeid.startswith(BROWSER_FOLDER))


@pytest.fixture(scope="session")
def sample_bundles() -> dict[str, ModelBundle]:
    """Both sample bundles, loaded with every safety check."""
    return {model_id: load_bundle(SAMPLE_MODELS_DIR / model_id) for model_id in SAMPLE_IDS}


@pytest.fixture(scope="session")
def sample_v2_bundles() -> dict[str, ModelBundle]:
    """Both samples' second versions by model id, loaded with every safety check."""
    loaded = (load_bundle(SAMPLE_MODELS_DIR / folder) for folder in SAMPLE_V2_FOLDERS)
    return {bundle.model_id: bundle for bundle in loaded}


@pytest.fixture(scope="session")
def heart_bundle(sample_bundles: dict[str, ModelBundle]) -> ModelBundle:
    return sample_bundles["heart-disease"]


@pytest.fixture(scope="session")
def readmission_bundle(sample_bundles: dict[str, ModelBundle]) -> ModelBundle:
    return sample_bundles["readmission-30d"]


@pytest.fixture(scope="session")
def readmission(readmission_bundle: ModelBundle) -> ModelBundle:
    """Short name used by the confidence and context tests."""
    return readmission_bundle


@pytest.fixture(scope="session")
def heart(heart_bundle: ModelBundle) -> ModelBundle:
    """Short name used by the confidence and context tests."""
    return heart_bundle


@pytest.fixture()
def bundle_copy(tmp_path: Path) -> Callable[[str], Path]:
    """Copy a sample bundle folder into tmp_path, to alter it without touching the original."""

    def copy(model_id: str = "heart-disease") -> Path:
        target = tmp_path / model_id
        shutil.copytree(SAMPLE_MODELS_DIR / model_id, target)
        return target

    return copy


@pytest.fixture()
def app_env(tmp_path, monkeypatch) -> Path:
    """A fresh data folder and demo mode for an AppTest run; returns the data folder."""
    data = tmp_path / "data"
    monkeypatch.setenv("CASELENS_DATA_DIR", str(data))
    monkeypatch.setenv("CASELENS_DEMO", "1")
    # The app tests draw the report itself; the estimate-first step is tested on its own
    # (tests/app/test_app_case.py turns it on).
    monkeypatch.setenv("CASELENS_ESTIMATE_FIRST", "off")
    monkeypatch.delenv("CASELENS_ESTIMATE_FIRST_USERS", raising=False)
    monkeypatch.delenv("CASELENS_AUDIT_URL", raising=False)
    monkeypatch.delenv("CASELENS_AUDIT_KEY", raising=False)
    return data


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server (see ``postgres_server.py``), started once per test session.
    Without PostgreSQL the tests that use it are skipped locally and fail in CI (CI=true)."""
    try:
        server = start_server()
    except PostgresUnavailable as exc:
        if in_ci():
            pytest.fail(f"PostgreSQL is needed in CI but could not be started: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        yield server
    finally:
        server.stop()


_pg_database_numbers = itertools.count()


@pytest.fixture()
def new_pg_database(pg_server: PostgresServer) -> Callable[[str], str]:
    """``new_pg_database(prefix)``: a fresh, empty database on the session's server, named
    ``<prefix>_<n>`` (unique for the session); returns its SQLAlchemy URL."""

    def create(prefix: str = "test") -> str:
        return pg_server.create_database(f"{prefix}_{next(_pg_database_numbers)}")

    return create


@pytest.fixture(scope="session")
def other_family_bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModelBundle]:
    """Bundles CaseLens did not train: a random forest on numeric and 0/1 inputs, calibrated
    and uncalibrated (see ``other_family.py``), written and loaded like any user's bundle."""
    from other_family import build_other_family_bundle

    folder = tmp_path_factory.mktemp("other-family")
    calibrated = build_other_family_bundle(folder / "calibrated", calibrated=True)
    uncalibrated = build_other_family_bundle(folder / "uncalibrated", calibrated=False)
    return {"calibrated": calibrated, "uncalibrated": uncalibrated}
