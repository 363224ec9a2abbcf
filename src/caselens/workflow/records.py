"""What the door hands back: the session a browser tab holds and the views and files it returns."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from caselens.access.policy import Viewer
from caselens.audit import AuditEntry
from caselens.explain.report import CaseReport
from caselens.model.bundle import ModelBundle
from caselens.model.bundle_signing import BundleSignature


@dataclass(frozen=True)
class LaunchContext:
    """What a sign-in with the EHR (SMART App Launch) leaves on the session: the patient in
    context, who the clinician is at the EHR, and the access token, used only to read that
    patient's record from the EHR's FHIR server (never recorded, never shown)."""

    patient_id: str
    fhir_user: str
    iss: str
    access_token: str = field(repr=False)


@dataclass
class UserSession:
    """What one browser tab holds between clicks. Sign-out replaces it whole.

    Attributes
    ----------
    session_id : str
        Random id, stored in every entry this session writes.
    viewer : Viewer or None
        Who is signed in.
    last_activity : datetime or None
        UTC time of the last request, for the idle timeout.
    recorded : set of tuple
        Displays already recorded: (viewer id, session id, report id, audience, action).
    reports : dict
        Reports computed in this session, by (model id, patient ref, inputs and the live
        version's bundle SHA-256).
    own_estimates : dict
        The clinician's own estimates (out of 100) committed before seeing the model's.
    cookie_handoff : str or None
        A one-time token the page hands to the server's cookie route, so the browser gets
        this session's signed cookie (see :mod:`caselens.access.browser_sessions`).
    cookie_issued : datetime or None
        When this session's cookie was last handed off (UTC), to refresh it while active.
    skipped_estimates : set
        Cases for which the clinician chose to see the model's result without an estimate.
    display_entries : dict
        Report id → the trail entry (seq) of its first display in this session, so a what-if
        or counterfactual display can name the entry it was derived from.
    launch : LaunchContext or None
        The EHR's patient in context and the clinician's access token, after a sign-in with
        the EHR (SMART); dropped with the session at sign-out.
    counterfactuals : dict
        Counterfactual results shown in this session, by parent report id (each computed
        and recorded once; see :mod:`.counterfactuals`).
    """

    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    viewer: Viewer | None = None
    last_activity: dt.datetime | None = None
    recorded: set[tuple[str, str, str, str, str]] = field(default_factory=set)
    reports: dict[tuple[str, str, str], CaseReport] = field(default_factory=dict)
    own_estimates: dict[tuple[str, str, str], int] = field(default_factory=dict)
    cookie_handoff: str | None = None
    cookie_issued: dt.datetime | None = None
    skipped_estimates: set[tuple[str, str, str]] = field(default_factory=set)
    display_entries: dict[str, int] = field(default_factory=dict)
    launch: LaunchContext | None = None
    counterfactuals: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportFile:
    """An export, built after its record was written."""

    file_name: str
    mime: str
    data: bytes
    entries: int
    #: The number of the audit entry that recorded it.
    seq: int | None = None
    #: What that entry recorded about it (its detail).
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelFacts:
    """What the Model facts page shows: the card, and what CaseLens measured.

    Attributes
    ----------
    bundle : ModelBundle
    reliability_curve : list
        Observed vs predicted on the reference data.
    validation : Validation
        The figures measured on the bundle's reference data (the card's own when they could
        not be measured); ``warnings`` says where the card claims otherwise.
    warnings : tuple of str
        Loud warnings from loading the bundle (card claims that the data do not bear out).
    standing_limitations : tuple
        Limitations that hold for every patient of this model, stated once.
    leakage_flags : tuple of LeakageFlag
        Measured AUROCs so high that the page says "check for leakage"
        (:func:`caselens.model.leakage.auroc_flags`).
    signature : BundleSignature or None
        The publisher, key id and how the bundle's signature stood when it was loaded
        (:class:`caselens.model.bundle_signing.BundleSignature`).
    """

    bundle: ModelBundle
    reliability_curve: Any
    validation: Any
    warnings: tuple[str, ...]
    standing_limitations: tuple[Any, ...]
    leakage_flags: tuple[Any, ...] = ()
    signature: BundleSignature | None = None


@dataclass(frozen=True)
class MonitoringView:
    """What the Monitoring page shows for one model (and one source: shown or simulated).

    Attributes
    ----------
    alerts : tuple of Alert
        Alerts recorded in the trail (``alert_raised``), newest period first.
    pending : tuple of Alert
        Crossings the plan finds in these figures now that are not recorded yet: they
        "would alert" (the scheduled check records live ones; nothing is reassuring until
        it has).
    watches : tuple of Alert
        Beyond a limit, but the interval still reaches back: shown, never raised.
    """

    model_id: str
    plan: Any
    figures: tuple[Any, ...]
    alerts: tuple[Any, ...]
    watches: tuple[Any, ...]
    simulated_runs: tuple[str, ...]
    suspended: bool
    pending: tuple[Any, ...] = ()

    @property
    def simulated(self) -> bool:
        """True when the figures come from a simulated run, not from displays to people."""
        return any(f.simulated for f in self.figures)

    @property
    def judged_periods(self) -> int:
        """Periods with enough predictions for the plan to judge drift or performance."""
        return sum(
            1
            for f in self.figures
            if f.drift_judged or (f.performance is not None and f.performance.judged)
        )


@dataclass(frozen=True)
class MonitoringCheck:
    """What judging a model's monitoring figures found (the alerts it recorded are in the
    trail): ``result`` holds the open alerts, the watches and the ids newly raised."""

    model_id: str
    result: Any
    periods: int


@dataclass(frozen=True)
class ClinicianUse:
    """How clinicians used one model, per period (``caselens.monitoring.clinician_use``)."""

    model_id: str
    feedback: tuple[Any, ...]
    limitations: tuple[Any, ...]


@dataclass(frozen=True)
class AuditPage:
    """One page of the audit trail, read in the database."""

    entries: tuple[AuditEntry, ...]
    total: int
    next_before_seq: int | None


@dataclass(frozen=True)
class AuditChoices:
    """What the reviewer's filters offer: the actions and models the trail holds, and the
    roles an entry's actor can have (choices, not free text)."""

    actions: tuple[str, ...]
    models: tuple[str, ...]
    roles: tuple[str, ...]


@dataclass(frozen=True)
class TrailMatch:
    """The entries a search found, newest first: one for an entry number, every display of
    the report for a report id."""

    seqs: tuple[int, ...]
    kind: str
    query: str
