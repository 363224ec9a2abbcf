"""``CaseReport``: the single object that "what was displayed" means, and ``explain()``.

A report is computed once, frozen, recorded in the audit trail, then rendered. Everything
the screen shows — numbers, chart data, sentences, warnings — is a field of it, so a replay
of its stored JSON shows exactly what was shown.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import threading
import time
from collections.abc import Mapping
from importlib import metadata
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer
from threadpoolctl import threadpool_limits

from caselens.explain.attribution import (
    BACKGROUND_SIZE,
    LIME_RUNS,
    LIME_SAMPLES,
    TOP_K,
    Attributions,
    Attributor,
    select_background,
)
from caselens.explain.attribution._frames import _in_order
from caselens.explain.cases import Case, Hypothetical, RecordSources
from caselens.explain.confidence.model import ConfidenceModel
from caselens.explain.confidence.results import ConfidenceAssessment
from caselens.explain.context import CaseContext, ContextModel
from caselens.explain.limitation_record import Limitation
from caselens.explain.limitations import LimitationRules, case_limitations
from caselens.explain.narrative import Narrative, build_narrative
from caselens.explain.next_steps import ReportNextSteps, clinician_lines, report_next_steps
from caselens.explain.patient_summary import patient_summary, patient_text
from caselens.model.bundle import ModelBundle
from caselens.model.card import PerformanceFigures

REPORT_SCHEMA_VERSION = "1"
#: Provenance fields about how a report was computed, not what it shows: like the timings,
#: they are left out of ``report_id`` (reports recorded before they existed keep their ids).
EXECUTION_FIELDS = ("timings_ms", "model_rows_per_report", "model_calls")
#: Fields that legitimately differ between two computations of the same report.
VOLATILE_FIELDS = ("created_at", *EXECUTION_FIELDS)
Audience = Literal["clinician", "patient"]
_LIBRARIES = (
    "caselens",
    "scikit-learn",
    "numpy",
    "scipy",
    "pandas",
    "shap",
    "lime",
    "skops",
    # An ONNX bundle's probabilities come from onnxruntime: its version is part of what a
    # report needs to reproduce.
    "onnxruntime",
    "textstat",
    "pydantic",
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ModelSummary(_Frozen):
    """What the report says about the model that produced it."""

    model_id: str
    name: str
    version: str
    sha256: str
    model_type: str
    outcome: str
    outcome_definition: str
    time_window: str
    threshold: float
    threshold_rationale: str
    calibration_method: str
    calibration_rationale: str
    validation_method: str
    validated_on: str
    validation: PerformanceFigures
    intended_use: str
    out_of_scope_uses: tuple[str, ...]
    demonstration_only: bool
    last_review_date: str
    review_due: str
    #: The version id (SHA-256 over the whole bundle): which version of the model id made
    #: this report, also when two versions share a model file. None in reports recorded
    #: before versions were kept.
    bundle_sha256: str | None = None


class CaseInput(_Frozen):
    """One displayed input: the value entered and how it reads."""

    name: str
    label: str
    patient_label: str
    value: float | str | None
    value_text: str


class CaseSummary(_Frozen):
    """The patient case the report is about.

    ``record_sources`` (a case read from the patient's FHIR record: where each value came
    from) is written only when present, so the JSON and the report id of every other case
    are exactly what they were before it existed. ``hypothetical`` (a what-if or
    counterfactual case, :mod:`caselens.explain.cases.hypothetical`) likewise.
    """

    case_id: str | None
    source: str
    inputs: tuple[CaseInput, ...]
    record_sources: RecordSources | None = None
    hypothetical: Hypothetical | None = None

    @model_serializer(mode="wrap")
    def _without_absent_sources(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if self.record_sources is None:
            data.pop("record_sources", None)
        if self.hypothetical is None:
            data.pop("hypothetical", None)
        return data

    def values(self) -> dict[str, Any]:
        """Feature name → value, as the model took it."""
        return {i.name: i.value for i in self.inputs}


class Provenance(_Frozen):
    """What is needed to reproduce the report bit for bit, and how long each step took."""

    caselens_version: str
    python_version: str
    library_versions: dict[str, str]
    seeds: dict[str, int]
    background_size: int
    lime_runs: int
    lime_samples: int
    top_k: int
    timings_ms: dict[str, float]
    #: Rows the model evaluated for this report (the case, SHAP's coalitions, every LIME
    #: run's neighbourhood) and in how many ``predict_proba`` calls; None in reports
    #: recorded before these were kept. Not part of ``report_id``.
    model_rows_per_report: int | None = None
    model_calls: int | None = None


class CaseReport(_Frozen):
    """Everything shown for one case, computed once by :func:`explain`.

    Attributes
    ----------
    report_id : str
        SHA-256 of the report's reproducible content (everything but ``created_at`` and the
        provenance's execution figures, :data:`EXECUTION_FIELDS`): the same inputs and model
        give the same id.
    created_at : str
        UTC, ISO 8601 with milliseconds.
    model, case, confidence, attributions, context, limitations, narrative, provenance
        The parts, each frozen.
    next_steps : ReportNextSteps or None
        The next steps the model's owners state for this probability
        (:mod:`caselens.explain.next_steps`); written only when the card states next steps,
        so every other report's JSON and id are what they were before it existed.
    """

    schema_version: Literal["1"] = REPORT_SCHEMA_VERSION
    report_id: str
    created_at: str
    model: ModelSummary
    case: CaseSummary
    confidence: ConfidenceAssessment
    attributions: Attributions
    context: CaseContext
    limitations: tuple[Limitation, ...]
    narrative: Narrative
    provenance: Provenance
    next_steps: ReportNextSteps | None = None

    @model_serializer(mode="wrap")
    def _without_absent_next_steps(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if self.next_steps is None:
            data.pop("next_steps", None)
        return data

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no spaces, UTF-8, floats in shortest round-trip form."""
        return canonical_json(self.model_dump(mode="json"))

    @classmethod
    def from_json(cls, text: str | bytes) -> CaseReport:
        """Rebuild a report from :meth:`to_json` output (``from_json(r.to_json()) == r``)."""
        return cls.model_validate_json(text)

    @property
    def probability(self) -> float:
        """The calibrated probability shown."""
        return self.confidence.probability


def canonical_json(data: Any) -> str:
    """The one JSON spelling of ``data`` that hashes and compares reliably."""
    # check_circular only guards against self-containing lists and dicts, which dumped
    # records cannot be; skipping it changes no character and saves a tenth of the time.
    return json.dumps(
        data,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        check_circular=False,
    )


def reproducible_digest(data: Mapping[str, Any]) -> str:
    """SHA-256 of a report's JSON without its volatile fields (time stamps, timings, model
    call counts)."""
    stripped = {k: v for k, v in data.items() if k not in {"report_id", "created_at"}}
    provenance = dict(stripped.get("provenance", {}))
    for name in EXECUTION_FIELDS:
        provenance.pop(name, None)
    stripped["provenance"] = provenance
    return hashlib.sha256(canonical_json(stripped).encode("utf-8")).hexdigest()


def library_versions() -> dict[str, str]:
    """Installed versions of every library that shapes a report."""
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _utc_now_text(now: dt.datetime | None = None) -> str:
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _model_summary(bundle: ModelBundle) -> ModelSummary:
    card = bundle.card
    return ModelSummary(
        model_id=card.model_id,
        name=card.name,
        version=card.version,
        sha256=bundle.model_sha256,
        bundle_sha256=bundle.bundle_sha256 or None,
        model_type=card.model_type,
        outcome=card.outcome.name,
        outcome_definition=card.outcome.definition,
        time_window=card.outcome.time_window,
        threshold=card.decision_threshold,
        threshold_rationale=card.threshold_rationale,
        calibration_method=card.calibration.method,
        calibration_rationale=card.calibration.rationale,
        validation_method=card.validation.method,
        validated_on=card.validation.dataset,
        validation=card.validation.overall,
        intended_use=card.intended_use,
        out_of_scope_uses=card.out_of_scope_uses,
        demonstration_only=card.demonstration_only,
        last_review_date=card.last_review_date.isoformat(),
        review_due=card.review_due().isoformat(),
    )


def _case_summary(case: Case, bundle: ModelBundle) -> CaseSummary:
    inputs = tuple(
        CaseInput(
            name=f.name,
            label=f.label,
            patient_label=f.patient_label,
            value=case.values[f.name],
            value_text=f.describe_value(case.values[f.name]),
        )
        for f in bundle.features
    )
    return CaseSummary(
        case_id=case.case_id,
        source=case.source,
        inputs=inputs,
        record_sources=case.record_sources,
        hypothetical=case.hypothetical,
    )


class CaseExplainer:
    """Everything about a bundle that is computed once, then reused for every case.

    Building it predicts the reference and calibration splits, fits the conformal set,
    samples the SHAP/LIME background and precomputes novelty scores. :meth:`warm_up` pays
    the remaining one-off costs (imports, first model calls) before the first clinician.

    Parameters
    ----------
    bundle : ModelBundle
    seed : int, default 0
        Seed of the background sample, SHAP permutations and LIME runs; recorded.
    background_size, lime_runs, lime_samples, top_k : int
    """

    def __init__(
        self,
        bundle: ModelBundle,
        *,
        seed: int = 0,
        background_size: int = BACKGROUND_SIZE,
        lime_runs: int = LIME_RUNS,
        lime_samples: int = LIME_SAMPLES,
        top_k: int = TOP_K,
    ) -> None:
        self.bundle = bundle
        self.seed = seed
        self.background_size = background_size
        self.lime_runs = lime_runs
        self.lime_samples = lime_samples
        self.top_k = top_k
        # One thread: on a small, busy machine the booster's OpenMP threads wait on each
        # other (about 6x slower); results are identical.
        with threadpool_limits(limits=1):
            self.confidence_model = ConfidenceModel.from_bundle(bundle)
            self.context_model = ContextModel.from_bundle(bundle)
        #: Per-bundle limitation settings (NEAR_THRESHOLD band) and the standing limitations,
        #: stated once for the model rather than on every case.
        self.limitation_rules = LimitationRules.for_bundle(bundle.card, self.confidence_model)
        self.background = select_background(
            bundle.reference, size=background_size, seed=seed, columns=bundle.features.names
        )
        self.attributor = Attributor(
            bundle.model,
            self.background,
            bundle.features,
            seed=seed,
            lime_runs=lime_runs,
            lime_samples=lime_samples,
            top_k=top_k,
        )
        self._model_summary = _model_summary(bundle)
        self._versions = library_versions()

    def warm_up(self) -> None:
        """Explain one demo or background case once, so the first real case is fast."""
        if self.bundle.demo_cases:
            from caselens.explain.cases import validate_inputs

            case = validate_inputs(
                self.bundle.demo_cases[0].inputs, self.bundle.features, source="demo"
            )
        else:
            row = self.background.iloc[0].to_dict()
            case = Case(values=row, source="warm-up")
        self.explain(case)  # also loads the reading-grade dictionary (about 1.4 s, once)

    def probability(self, case: Case) -> float:
        """The calibrated probability :meth:`explain` would show for ``case``, computed
        alone (one model call, no SHAP or LIME): what a shadow candidate is scored with.

        Raises whatever the model raises on the case (as :meth:`explain` does)."""
        frame = _in_order(case.to_frame(), self.bundle.features.names)
        # The report's probability is the model's answer as given (the confidence
        # assessment keeps it unrounded), so nothing more is computed here.
        return self.attributor.probability(frame)

    def explain(
        self, case: Case, *, now: dt.datetime | None = None, language: str = "en"
    ) -> CaseReport:
        """Compute the full report for one validated case, its patient summary in
        ``language`` (see :mod:`caselens.explain.patient_language`)."""
        timings: dict[str, float] = {}
        clock = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal clock
            current = time.perf_counter()
            timings[name] = round(1000 * (current - clock), 3)
            clock = current

        bundle = self.bundle
        frame = _in_order(case.to_frame(), bundle.features.names)
        # The model is asked once: LIME's and SHAP's rows and the case in one call.
        explained = self.attributor.explain(frame)
        attributions = explained.attributions
        lap("attributions")
        timings["predict"] = explained.usage.predict_ms
        timings["attributions"] = round(timings["attributions"] - timings["predict"], 3)
        confidence = self.confidence_model.assess(explained.probability)
        lap("confidence")
        context = self.context_model.assess(case)
        lap("context")
        created = _utc_now_text(now)
        limitations = case_limitations(
            case,
            bundle.features,
            bundle.card,
            confidence,
            attributions,
            context,
            today=dt.date.fromisoformat(created[:10]),
            rules=self.limitation_rules,
        )
        narrative = build_narrative(
            confidence,
            attributions,
            limitations,
            bundle.card,
            bundle.features,
            values=case.values,
            language=language,
        )
        lap("limitations_and_narrative")
        provenance = Provenance(
            caselens_version=self._versions["caselens"],
            python_version=platform.python_version(),
            library_versions=self._versions,
            seeds={"background": self.seed, "shap": self.seed, "lime_first": self.seed},
            background_size=len(self.background),
            lime_runs=self.lime_runs,
            lime_samples=self.lime_samples,
            top_k=self.top_k,
            timings_ms=timings,
            model_rows_per_report=explained.usage.rows,
            model_calls=explained.usage.calls,
        )
        parts = {
            "schema_version": REPORT_SCHEMA_VERSION,
            "model": self._model_summary,
            "case": _case_summary(case, bundle),
            "confidence": confidence,
            "attributions": attributions,
            "context": context,
            "limitations": limitations,
            "narrative": narrative,
            "provenance": provenance,
            "next_steps": report_next_steps(
                bundle.card.next_steps, confidence.probability, confidence.threshold
            ),
        }
        draft = CaseReport(report_id="", created_at=created, **parts)
        report_id = reproducible_digest(draft.model_dump(mode="json"))
        return draft.model_copy(update={"report_id": report_id})


class ExplainerCache:
    """The explainers of a process, one per bundle, keyed by its folder and model hash.

    Building an explainer (background data, SHAP and LIME set-up) is a one-off cost worth
    sharing: the app, the benchmarks and :func:`explainer_for` all use the process's one
    cache, :data:`EXPLAINERS` (``caselens.runtime.Runtime`` hands it on). Safe to share
    between threads: each bundle's explainer is built once.
    """

    def __init__(self) -> None:
        self._explainers: dict[tuple[str, str], CaseExplainer] = {}
        self._warmed: set[tuple[str, str]] = set()
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(bundle: ModelBundle) -> tuple[str, str]:
        return (str(bundle.path), bundle.model_sha256)

    def explainer(self, bundle: ModelBundle, *, warm: bool = False) -> CaseExplainer:
        """The bundle's explainer, built on first use; with ``warm``, also explained once
        (:meth:`CaseExplainer.warm_up`) so that the first person's click is fast."""
        key = self._key(bundle)
        with self._lock:  # held only to find the bundle's own lock
            bundle_lock = self._locks.setdefault(key, threading.Lock())
        # One bundle's seconds-long build never holds up another bundle's explainer.
        with bundle_lock:
            if key not in self._explainers:
                self._explainers[key] = CaseExplainer(bundle)
            built = self._explainers[key]
            if warm and key not in self._warmed:
                built.warm_up()
                self._warmed.add(key)
        return built

    def __len__(self) -> int:
        return len(self._explainers)


#: The process's one explainer cache.
EXPLAINERS = ExplainerCache()


def explainer_for(bundle: ModelBundle) -> CaseExplainer:
    """The (cached) explainer of a bundle, keyed by its folder and model hash."""
    return EXPLAINERS.explainer(bundle)


def explain(bundle: ModelBundle, case: Case, *, language: str = "en") -> CaseReport:
    """Compute the report for ``case`` with ``bundle`` (see :class:`CaseExplainer`)."""
    return explainer_for(bundle).explain(case, language=language)


def in_patient_language(report: CaseReport, bundle: ModelBundle, language: str) -> CaseReport:
    """The same report with its patient summary written in ``language`` (a new report id):
    what a clinician previews for a patient who reads another language. Only the patient
    text changes; every number is the report's own."""
    if report.narrative.patient.language == language:
        return report
    patient = patient_summary(
        report.confidence,
        report.attributions,
        report.limitations,
        bundle.card,
        bundle.features,
        values=report.case.values(),
        language=language,
    )
    narrative = report.narrative.model_copy(update={"patient": patient})
    draft = report.model_copy(update={"narrative": narrative, "report_id": ""})
    return draft.model_copy(
        update={"report_id": reproducible_digest(draft.model_dump(mode="json"))}
    )


def displayed_text(report: CaseReport, audience: Audience) -> str:
    """The words a given audience sees for this report, in order; its digest is audited.

    A hypothetical report (a what-if or counterfactual case) starts with its label, so the
    recorded digest covers the words that say it is not the patient's recorded values."""
    label = [] if report.case.hypothetical is None else [report.case.hypothetical.label]
    if audience == "patient":
        return "\n".join([*label, patient_text(report.narrative.patient)])
    lines = [
        *label,
        report.narrative.clinician_summary,
        f"Probability {report.confidence.probability!r}; threshold {report.confidence.threshold}"
        f"; {report.confidence.side_statement}",
    ]
    if report.confidence.conformal is not None:
        lines.append(report.confidence.conformal.statement)
    if report.attributions.agreement is not None:
        lines.append(report.attributions.agreement.sentence)
    lines += clinician_lines(report.next_steps)
    lines += [f"{lim.severity}: {lim.clinician_text}" for lim in report.limitations]
    return "\n".join(lines)


def displayed_digest(report: CaseReport, audience: Audience) -> str:
    """SHA-256 of :func:`displayed_text`."""
    return hashlib.sha256(displayed_text(report, audience).encode("utf-8")).hexdigest()
