"""One process's CaseLens, wired from one :class:`~caselens.settings.Settings`.

The app, the benchmarks and the command line build what they need here, so that every
one of them opens the same stores from the same settings and shares one explainer cache::

    runtime = Runtime.from_settings(Settings.from_environment())
    runtime.workflow.show_report(...)   # .audit_store, .app_database, .catalogue, .explainers

Each part is built on first use, once (thread-safe), so a command that needs only the
catalogue never opens the audit trail.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from caselens.settings import Settings, SettingsError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from caselens.access import AccountStore, CdsCallStore, ModelStatusStore
    from caselens.audit import AuditStore
    from caselens.audit.signing_keys import KeyRing, SigningKey
    from caselens.explain.report import CaseExplainer, ExplainerCache
    from caselens.model import BundleCatalogue, BundleTrust
    from caselens.workflow import Workflow


class Runtime:
    """The stores, the model catalogue, the explainer cache and the workflow of one process.

    Parameters
    ----------
    settings : Settings
        The operator's settings; nothing here reads the environment itself.
    explainers : ExplainerCache, optional
        The explainer cache to use (default: the process's one cache,
        ``caselens.explain.report.EXPLAINERS``, which ``explainer_for`` also uses).
    reread : callable, optional
        Returns the settings as they are now: the estimate-first settings are taken from it
        on every check, so a changed site or user setting needs no restart (default: the
        settings given).
    background : bool
        Whether the workflow starts its background work when built: the monitoring
        warm-up and, unless ``monitor_check`` is ``"off"``, the scheduled check.
    catalogue : BundleCatalogue, optional
        A catalogue already loaded by :func:`load_models` from the same settings (loading
        takes seconds; the app shares one between runtimes of different data folders), or
        only the bundles a command reads.
    create_trail : bool
        Whether a missing audit trail (and its key) is created; a command that only reads or
        amends an existing trail passes False and is refused when there is none.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        explainers: ExplainerCache | None = None,
        reread: Callable[[], Settings] | None = None,
        background: bool = True,
        catalogue: BundleCatalogue | None = None,
        create_trail: bool = True,
    ) -> None:
        from caselens.explain.report import EXPLAINERS

        self.settings = settings
        self.explainers = EXPLAINERS if explainers is None else explainers
        self._reread = reread
        self._background = background
        self._create_trail = create_trail
        self._built: dict[str, Any] = {} if catalogue is None else {"catalogue": catalogue}
        self._lock = threading.RLock()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        explainers: ExplainerCache | None = None,
        reread: Callable[[], Settings] | None = None,
        background: bool = True,
        catalogue: BundleCatalogue | None = None,
        create_trail: bool = True,
    ) -> Runtime:
        """The runtime of ``settings`` (see the class for the keyword arguments)."""
        return cls(
            settings,
            explainers=explainers,
            reread=reread,
            background=background,
            catalogue=catalogue,
            create_trail=create_trail,
        )

    def _once(self, name: str, build: Callable[[], Any]) -> Any:
        # RLock: building the workflow builds the stores it needs, under the same lock.
        with self._lock:
            if name not in self._built:
                self._built[name] = build()
            return self._built[name]

    # -- where things are ----------------------------------------------------------------

    @property
    def audit_location(self) -> str:
        """The audit trail's database: ``CASELENS_AUDIT_URL`` or ``<data dir>/audit.sqlite``."""
        from caselens.audit import default_location

        return default_location(self.settings.audit_environment())

    @property
    def audit_key_file(self) -> Path:
        """The audit key file: ``CASELENS_AUDIT_KEY_FILE`` or ``<data dir>/audit.key``."""
        from caselens.audit import default_key_file

        return default_key_file(self.settings.audit_environment())

    @property
    def signing_key_file(self) -> Path:
        """The Ed25519 signing key: ``CASELENS_SIGNING_KEY_FILE`` or
        ``<data dir>/signing.key.pem``."""
        from caselens.audit.signing_keys import SIGNING_KEY_FILE

        return self.settings.signing_key_file or Path(self.settings.data_dir) / SIGNING_KEY_FILE

    @property
    def signing_key(self) -> SigningKey:
        """The server's signing key, read once; created on first use in demo mode only
        (outside it a missing key is an operator's error, named with the file)."""
        from caselens.audit.signing_keys import load_signing_key

        return self._once(
            "signing_key",
            lambda: load_signing_key(self.signing_key_file, create=self.settings.demo),
        )

    def report_key_ring(self) -> KeyRing:
        """The keys an exported report file may be signed by: the server's current key and
        its retired ones (read afresh each time, so a rotation counts at once)."""
        from caselens.audit.signing_keys import KeyRing

        return KeyRing.for_server(self.signing_key_file)

    # -- the parts, each built once ------------------------------------------------------

    @property
    def audit_store(self) -> AuditStore:
        """The audit trail, opened as ``caselens.audit.open_trail`` opens it (it refuses a
        trail whose key is missing rather than minting a new one)."""
        from caselens.audit import open_trail

        return self._once(
            "audit",
            lambda: open_trail(create=self._create_trail, env=self.settings.audit_environment()),
        )

    @property
    def app_database(self) -> Engine:
        """The app database (accounts, sign-in back-off, model status)."""
        from caselens.access import open_app_database

        settings = self.settings
        return self._once(
            "app_database", lambda: open_app_database(settings.data_dir, settings.app_db_url)
        )

    @property
    def sign_in_key(self) -> bytes:
        """The key that signs the browser cookies (created owner-only when missing)."""
        from caselens.access import load_sign_in_key

        return self._once("sign_in_key", lambda: load_sign_in_key(self.settings.sign_in_key_path))

    @property
    def accounts(self) -> AccountStore:
        """The account store; in demo mode the demo accounts exist."""
        return self._once("accounts", self._build_accounts)

    def _build_accounts(self) -> AccountStore:
        from caselens.access import AccountStore, seed_demo_accounts

        store = AccountStore(self.app_database, key=self.sign_in_key)
        if self.settings.demo:
            seed_demo_accounts(store)
        return store

    @property
    def cds_calls(self) -> CdsCallStore:
        """The CDS Hooks service's accepted token ids and returned cards (app database)."""
        from caselens.access import CdsCallStore

        return self._once("cds_calls", lambda: CdsCallStore(self.app_database))

    @property
    def model_statuses(self) -> ModelStatusStore:
        """Which models are suspended."""
        from caselens.access import ModelStatusStore

        return self._once("model_statuses", lambda: ModelStatusStore(self.app_database))

    @property
    def catalogue(self) -> BundleCatalogue:
        """Every bundle in the models folder; a refused bundle (or an unreadable folder) is
        listed with its reason, never fatal."""
        return self._once("catalogue", lambda: load_models(self.settings))

    def explainer(self, model_id: str) -> CaseExplainer:
        """The catalogued model's explainer from the one cache, warmed up so that the
        first person's click is fast.

        Raises
        ------
        KeyError
            If the catalogue holds no such model.
        """
        from caselens.long_lived import freeze_long_lived

        bundle = self.catalogue.bundles[model_id]
        fresh = len(self.explainers)
        built = self.explainers.explainer(bundle, warm=True)
        if len(self.explainers) != fresh:
            freeze_long_lived()
        return built

    def estimate_first_for(self, user_id: str, role: str) -> bool:
        """Whether this user records their own estimate first (the settings as they are now
        when a ``reread`` was given; see ``Settings.estimate_first_for``)."""
        settings = self._reread() if self._reread is not None else self.settings
        return settings.estimate_first_for(user_id, role)

    @property
    def workflow(self) -> Workflow:
        """The engine's one door for every display and action (``caselens.workflow``)."""
        return self._once("workflow", self._build_workflow)

    def _build_workflow(self) -> Workflow:
        from caselens.long_lived import freeze_long_lived
        from caselens.workflow import Workflow

        audit = self.audit_store
        built = Workflow(
            audit=audit,
            accounts=self.accounts,
            statuses=self.model_statuses,
            catalogue=self.catalogue,
            explainer=self.explainer,
            audit_key=audit.signing_key,
            estimate_first=self.estimate_first_for,
            cds_calls=self.cds_calls,
            signing_key=lambda: self.signing_key,
            key_ring=self.report_key_ring,
        )
        # Read when a pack is signed, not now: outside demo mode a missing key is an error
        # for the export alone.
        if self.settings.fhir_url:
            from caselens.fhir import FhirServer, access_from_settings

            built.configure_fhir_server(
                FhirServer(self.settings.fhir_url, self.settings.fhir_token_file)
            )
            built.configure_record_server(access_from_settings(self.settings))
        self._configure_smart(built)
        if self.settings.demo:
            # The samples' first versions, registered and approved by the demo accounts
            # (recorded): outside demo mode a model owner registers and a second person
            # approves each version before it shows a prediction.
            built.seed_demo_versions()
        freeze_long_lived()
        if self._background:
            warming = built.warm_up_monitoring()  # in the background: the first view is fast
            # Alerts are recorded without a click: a background check of every model's live
            # data, started once the warm-up has computed the same figures.
            schedule = self.settings.monitor_check
            if schedule != "off":
                scheduler = built.start_monitoring_schedule(interval_s=schedule, after=warming)
                self._built["scheduler"] = scheduler
        return built

    def _configure_smart(self, workflow: Workflow) -> None:
        """Sign-in with the EHR, when configured; settings that cannot be used leave password
        sign-in working and the sign-in page saying what the operator must fix."""
        from caselens.fhir import SmartLaunchError, smart_config_from_settings

        try:
            workflow.configure_smart_sign_in(smart_config_from_settings(self.settings))
        except SmartLaunchError as exc:
            workflow.configure_smart_sign_in(None, problem=str(exc))

    @property
    def monitoring_scheduler(self) -> Any:
        """The workflow's scheduled monitoring check, or None when none was started."""
        return self._built.get("scheduler")

    def close(self) -> None:
        """Stop the scheduled monitoring check and the shadow scorer (its last batches
        written), then close the audit trail and the app database, if they were started or
        opened."""
        with self._lock:
            scheduler = self._built.pop("scheduler", None)
            workflow = self._built.pop("workflow", None)
            audit = self._built.pop("audit", None)
            database = self._built.pop("app_database", None)
            self._built.clear()
        if scheduler is not None:  # first: it writes to the trail
            scheduler.stop()
        if workflow is not None:  # the shadow candidate's last batches, before the trail
            workflow.stop_shadow_scoring()
        if audit is not None:
            audit.close()
        if database is not None:
            database.dispose()


#: Most public key files read from the trusted bundle keys setting (folders included).
MAX_TRUSTED_BUNDLE_KEYS = 1_000


def _key_files(paths: tuple[Path, ...]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.pem")) if path.is_dir() else [path])
        if len(files) > MAX_TRUSTED_BUNDLE_KEYS:
            raise SettingsError(
                f"CASELENS_TRUSTED_BUNDLE_KEYS: more than {MAX_TRUSTED_BUNDLE_KEYS} key files."
            )
    return files


def bundle_trust(settings: Settings, *, public_keys: tuple[Path, ...] = ()) -> BundleTrust:
    """The publisher keys bundles are checked against, from the settings: the operator's
    trusted keys (files or folders of ``*.pem``), in demo mode the demo publisher key (its
    private half is committed, so it is trusted nowhere else by default), the revoked ids,
    and whether a signature is required. ``public_keys``: keys given on the command line,
    used instead of the operator's.

    Raises
    ------
    SettingsError
        Naming the variable and the key file that cannot be read as an Ed25519 public key.
    """
    from caselens.audit.errors import AuditKeyError
    from caselens.audit.signing_keys import read_public_key, signing_key_id
    from caselens.model import BundleTrust
    from caselens.settings import DEMO_PUBLISHER_KEY

    files = list(public_keys) if public_keys else _key_files(settings.trusted_bundle_keys)
    demo: set[str] = set()
    if settings.demo and not public_keys and DEMO_PUBLISHER_KEY.is_file():
        demo.add(signing_key_id(read_public_key(DEMO_PUBLISHER_KEY)))
        files.append(DEMO_PUBLISHER_KEY)
    trusted = {}
    for file in files:
        try:
            key = read_public_key(file)
        except AuditKeyError as exc:
            raise SettingsError(f"CASELENS_TRUSTED_BUNDLE_KEYS: {exc}.") from exc
        trusted[signing_key_id(key)] = key
    return BundleTrust(
        trusted=trusted,
        revoked=settings.revoked_bundle_keys,
        required=settings.signed_bundles_required,
        demo_keys=frozenset(demo),
    )


def load_models(settings: Settings) -> BundleCatalogue:
    """Every bundle in ``settings.models_dir``, each checked against the publisher keys of
    :func:`bundle_trust`; a refused bundle, or an unreadable folder or key, is listed with
    its reason, never fatal."""
    from caselens.long_lived import freeze_long_lived
    from caselens.model import BundleCatalogue, load_catalogue

    folder = settings.models_dir
    try:
        trust = bundle_trust(settings)
        loaded = load_catalogue(folder, allow_pickle=settings.allow_pickle, trust=trust)
    except Exception as exc:  # e.g. an unreadable models folder: list it, keep serving
        return BundleCatalogue(bundles={}, refused={folder.name: f"{exc}"})
    freeze_long_lived()  # later garbage collections skip the bundles (caselens.long_lived)
    return loaded
