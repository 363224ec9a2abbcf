"""A displayed report back to the record: a FHIR R4 RiskAssessment with its Provenance.

:func:`risk_assessment_bundle` writes one audited display of a report (its audit entry) as a
Bundle of four resources, profiled as HL7 **AI Transparency on FHIR** (STU1) says:

- ``RiskAssessment`` (labelled ``AIAST``, *AI asserted*, in ``meta.security``): the patient,
  when it was shown, the outcome, the probability and the side of the threshold in words, the
  probability's interval as the **AI Confidence** extension, the model as ``method`` and
  ``performer``, the source resources as ``basis``, and notes (``not a diagnosis``; how the
  case was entered; why a figure is missing);
- ``Device`` (profile AI-Device): the model, by name, version and model-file SHA-256, with a
  reference to its model card;
- ``DocumentReference`` (profile AI-ModelCard): the model card in Markdown;
- ``Provenance`` (profile AI-Provenance): target the RiskAssessment, recorded at the entry's
  time, the model as author and the viewer as agents, the model card, the audit entry (number
  and hash) and the source resources as entities.

An **uncalibrated** model's score is not a probability: the RiskAssessment then has no
``probabilityDecimal`` and no confidence extension; the score is carried in a CaseLens
extension and a note says what it is. The patient is referenced by the report's case id (the
CaseLens patient reference) as an identifier, and by ``Patient/<id>`` too when the case was
taken from a FHIR record that included the Patient resource.

Ids are derived from the entry's hash (the Device and model card from the model's SHA-256),
so exporting the same entry twice gives the same resources, and a transaction ``PUT`` of them
is idempotent. Every resource is validated with the ``fhir.resources`` R4B models before the
bundle is returned; an invalid one raises :class:`RiskAssessmentError` naming the field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any, Literal, Protocol

from caselens.audit import AuditEntry
from caselens.errors import CaseLensError
from caselens.explain.interval_text import format_interval, format_percent, interval_level_text
from caselens.explain.report import CaseReport
from caselens.fhir.risk_codes import (
    AI_ASSERTED_CODE,
    AI_ASSERTED_DISPLAY,
    AI_CONFIDENCE_EXTENSION,
    AI_DEVICE_TYPE_CODE,
    AI_DEVICE_TYPE_SYSTEM,
    AI_PROVENANCE_PROFILE,
    DATA_OPERATION_SYSTEM,
    ENTRY_HASH_SYSTEM,
    ENTRY_NUMBER_SYSTEM,
    MODEL_SCORE_EXTENSION,
    MODEL_SYSTEM,
    OBSERVATION_VALUE_SYSTEM,
    PARTICIPANT_TYPE_SYSTEM,
    PATIENT_SYSTEM,
    REPORT_SYSTEM,
    ROLE_SYSTEM,
    THRESHOLD_SIDE_SYSTEM,
    UCUM,
    USER_SYSTEM,
    stable_id,
)
from caselens.fhir.risk_model_card import (
    device_id,
    device_resource,
    markdown_literal,
    model_card_id,
    model_card_resource,
)

BundleType = Literal["collection", "transaction"]
#: The first words of every RiskAssessment's first note.
NOT_A_DIAGNOSIS = "Not a diagnosis."
#: Source resources named at most in one RiskAssessment's basis (a case has a few dozen
#: inputs; a bound keeps a hostile intake from writing an unbounded resource).
MAX_BASIS = 500
#: A FHIR resource type and a FHIR id (also a version id), as R4 defines them: a source
#: reference is built from these, so nothing else may reach it (no '/', no spaces, no URL).
_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{0,63}")
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


class RiskAssessmentError(CaseLensError):
    """The result cannot be written as valid FHIR; the message names the field and why."""


class SourceResource(Protocol):
    """A resource of the patient's record a case value came from (the intake's
    ``caselens.fhir.intake.SourceResource`` has these fields)."""

    @property
    def resource_type(self) -> str: ...

    @property
    def resource_id(self) -> str: ...

    @property
    def version(self) -> str | None: ...

    @property
    def date(self) -> str | dt.date | dt.datetime | None: ...


def risk_assessment_id(entry: AuditEntry) -> str:
    """The RiskAssessment's id for one audited display."""
    return stable_id("RiskAssessment", entry.entry_hash)


def provenance_id(entry: AuditEntry) -> str:
    """The Provenance's id for one audited display."""
    return stable_id("Provenance", entry.entry_hash)


def _urn(resource_id: str) -> str:
    return f"urn:uuid:{resource_id}"


def _ai_asserted() -> dict[str, str]:
    return {
        "system": OBSERVATION_VALUE_SYSTEM,
        "code": AI_ASSERTED_CODE,
        "display": AI_ASSERTED_DISPLAY,
    }


def _check_sources(basis: Sequence[SourceResource]) -> None:
    """Every source's type, id and version are FHIR's own shapes (RiskAssessmentError)."""
    for i, source in enumerate(basis):
        parts = (
            (
                "resource_type",
                source.resource_type,
                _RESOURCE_TYPE,
                "a resource type such as Observation",
            ),
            ("resource_id", source.resource_id, _FHIR_ID, "a FHIR id (letters, digits, '-', '.')"),
            ("version", source.version or "1", _FHIR_ID, "a FHIR version id"),
        )
        for name, value, shape, expected in parts:
            if not isinstance(value, str) or not shape.fullmatch(value):
                raise RiskAssessmentError(
                    f"RiskAssessment.basis[{i}].{name}: expected {expected}, "
                    f"got {str(value)[:40]!r}."
                )


def _basis_reference(source: SourceResource) -> dict[str, Any]:
    """A version-specific reference when the version is known."""
    reference = f"{source.resource_type}/{source.resource_id}"
    if source.version:
        reference += f"/_history/{source.version}"
    display = f"{source.resource_type} {source.resource_id}"
    if source.date is not None:
        display += f" ({source.date})"
    return {"reference": reference, "display": display}


def _subject(report: CaseReport, basis: Sequence[SourceResource]) -> dict[str, Any]:
    """The patient: the report's case id as an identifier, and the Patient resource the case
    was taken from when the basis holds one."""
    subject: dict[str, Any] = {"type": "Patient"}
    patient = next((s for s in basis if s.resource_type == "Patient"), None)
    if patient is not None:
        subject["reference"] = f"Patient/{patient.resource_id}"
    if report.case.case_id:
        subject["identifier"] = {"system": PATIENT_SYSTEM, "value": report.case.case_id}
    if len(subject) == 1:
        raise RiskAssessmentError(
            "RiskAssessment.subject: the report names no patient (no case id) and the case "
            "came from no Patient resource; a result cannot be filed without its patient."
        )
    return subject


def _prediction(report: CaseReport) -> dict[str, Any]:
    """The one prediction: outcome, probability (calibrated models only), the side of the
    threshold, and the interval as the AI Confidence extension."""
    model, confidence = report.model, report.confidence
    prediction: dict[str, Any] = {
        "outcome": {"text": model.outcome},
        "qualitativeRisk": {
            "coding": [{"system": THRESHOLD_SIDE_SYSTEM, "code": confidence.side}],
            "text": confidence.side_statement,
        },
        "rationale": f"{model.outcome_definition} ({model.time_window}). "
        + (
            f"{confidence.probability_label}: {format_percent(confidence.probability)}."
            if confidence.calibrated
            else f"Model score (not calibrated, not a probability): {confidence.probability:.4g}."
        ),
    }
    if confidence.calibrated:
        prediction["probabilityDecimal"] = confidence.probability
        interval = confidence.interval
        if interval is not None:
            prediction["extension"] = [
                {
                    "url": AI_CONFIDENCE_EXTENSION,
                    "valueRange": {
                        "low": {"value": interval.low, "unit": "1", "system": UCUM, "code": "1"},
                        "high": {"value": interval.high, "unit": "1", "system": UCUM, "code": "1"},
                    },
                }
            ]
    else:
        prediction["extension"] = [
            {"url": MODEL_SCORE_EXTENSION, "valueDecimal": confidence.probability}
        ]
    return prediction


def _notes(report: CaseReport, basis: Sequence[SourceResource]) -> list[dict[str, str]]:
    """What a reader of the record must know beside the numbers (Markdown: the card's words
    are escaped as literals)."""
    model, confidence = report.model, report.confidence
    lit = markdown_literal
    notes = [
        f"{NOT_A_DIAGNOSIS} A model's estimate for {lit(model.outcome)} "
        f"({lit(model.time_window)}), shown in CaseLens; an association, not a cause."
    ]
    if confidence.calibrated:
        interval = confidence.interval
        if interval is not None:
            notes.append(
                f"Interval of the probability: {format_interval(interval.low, interval.high)} "
                f"({interval_level_text(interval)}), the AI Confidence extension's range. "
                f"How it was made: {interval.method}"
            )
        else:
            reason = confidence.interval_unavailable_reason or "none was computed"
            notes.append(f"No interval for the probability: {lit(reason)}")
    else:
        notes.append(
            f"The model is not calibrated: its score ({confidence.probability:.4g}) is not a "
            "probability, so no probability or confidence is given; the score is in the "
            f"extension {lit(MODEL_SCORE_EXTENSION)}."
        )
    if not basis and "fhir" in report.case.source.lower():
        notes.append(
            "The case was taken from the patient's FHIR record, but its source resources "
            "were not given to this export: the basis is not listed."
        )
    elif not basis:
        notes.append(
            "The case was entered by hand in CaseLens: no resource of the patient's record "
            "is its basis."
        )
    if model.demonstration_only:
        notes.append("Demonstration model: not for clinical use.")
    return [{"text": text} for text in notes]


def _risk_assessment(
    report: CaseReport, entry: AuditEntry, basis: Sequence[SourceResource]
) -> dict[str, Any]:
    model = report.model
    resource: dict[str, Any] = {
        "resourceType": "RiskAssessment",
        "id": risk_assessment_id(entry),
        "meta": {"security": [_ai_asserted()]},
        "identifier": [
            {"system": ENTRY_NUMBER_SYSTEM, "value": str(entry.seq)},
            {"system": ENTRY_HASH_SYSTEM, "value": entry.entry_hash},
            {"system": REPORT_SYSTEM, "value": report.report_id},
        ],
        "status": "final",
        "code": {"text": f"Risk of {model.outcome}"},
        "subject": _subject(report, basis),
        "occurrenceDateTime": entry.recorded_at,
        "performer": {"reference": _urn(device_id(model)), "display": model.name},
        "method": {
            "coding": [
                {
                    "system": MODEL_SYSTEM,
                    "code": model.model_id,
                    "version": model.version,
                    "display": model.name,
                }
            ],
            "text": f"{model.name} {model.version} (model file SHA-256 {model.sha256})",
        },
        "prediction": [_prediction(report)],
        "note": _notes(report, basis),
    }
    if basis:
        resource["basis"] = [_basis_reference(s) for s in basis]
    return resource


def _provenance(
    report: CaseReport, entry: AuditEntry, basis: Sequence[SourceResource]
) -> dict[str, Any]:
    model = report.model
    entities: list[dict[str, Any]] = [
        {
            "role": "derivation",
            "what": {"reference": _urn(model_card_id(model)), "display": "Model card"},
        },
        {
            "role": "source",
            "what": {
                "identifier": {"system": ENTRY_HASH_SYSTEM, "value": entry.entry_hash},
                "display": f"CaseLens audit entry #{entry.seq}",
            },
        },
    ]
    entities += [{"role": "source", "what": _basis_reference(s)} for s in basis]
    return {
        "resourceType": "Provenance",
        "id": provenance_id(entry),
        "meta": {"profile": [AI_PROVENANCE_PROFILE]},
        "target": [{"reference": _urn(risk_assessment_id(entry))}],
        "occurredDateTime": entry.recorded_at,
        "recorded": entry.recorded_at,
        "reason": [{"coding": [_ai_asserted()]}],
        "activity": {"coding": [{"system": DATA_OPERATION_SYSTEM, "code": "CREATE"}]},
        "agent": [
            {
                "type": {"coding": [{"system": PARTICIPANT_TYPE_SYSTEM, "code": "author"}]},
                "role": [
                    {"coding": [{"system": AI_DEVICE_TYPE_SYSTEM, "code": AI_DEVICE_TYPE_CODE}]}
                ],
                "who": {"reference": _urn(device_id(model)), "display": model.name},
            },
            {
                # The person the result was shown to: named, not claimed to have verified it.
                "role": [
                    {
                        "coding": [{"system": ROLE_SYSTEM, "code": entry.actor_role}],
                        "text": f"{entry.actor_role} shown the result",
                    }
                ],
                "who": {
                    "identifier": {"system": USER_SYSTEM, "value": entry.actor_id},
                    "display": entry.actor_name,
                },
            },
        ],
        "entity": entities,
    }


def _entry(resource: dict[str, Any], bundle_type: BundleType) -> dict[str, Any]:
    item: dict[str, Any] = {"fullUrl": _urn(resource["id"]), "resource": resource}
    if bundle_type == "transaction":
        # PUT with the derived id: sending the same result twice updates, never duplicates.
        item["request"] = {
            "method": "PUT",
            "url": f"{resource['resourceType']}/{resource['id']}",
        }
    return item


def validate_resource(resource: dict[str, Any]) -> None:
    """Validate one resource (or a Bundle) with the ``fhir.resources`` R4B model of its type.

    Raises
    ------
    RiskAssessmentError
        Naming the resource type and the first invalid fields.
    """
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    kind = resource.get("resourceType")
    try:
        model = get_fhir_model_class(str(kind))
    except (KeyError, ValueError) as exc:
        raise RiskAssessmentError(f"{kind}: not a FHIR R4 resource type.") from exc
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise RiskAssessmentError(f"{kind} is not valid FHIR R4: {problems}") from exc


def risk_assessment_bundle(
    report: CaseReport,
    entry: AuditEntry,
    basis: Sequence[SourceResource] = (),
    *,
    bundle_type: BundleType = "collection",
) -> dict[str, Any]:
    """The FHIR R4 Bundle of one audited display of ``report`` (see the module notes).

    Parameters
    ----------
    report : CaseReport
        The report as it was shown (``entry``'s report).
    entry : AuditEntry
        The audit entry that recorded the display: its number, hash, time and viewer.
    basis : sequence of SourceResource
        The resources of the patient's record the case was taken from; empty when the case
        was entered by hand (a note then says so).
    bundle_type : {'collection', 'transaction'}
        ``transaction`` to send to a FHIR server (each entry a ``PUT`` of its derived id).

    Returns
    -------
    dict
        The Bundle as JSON-ready data, each resource validated with the R4B models.

    Raises
    ------
    RiskAssessmentError
        When a resource would not be valid FHIR R4 (the field is named), a source's type, id
        or version is not FHIR's shape, or there are more than :data:`MAX_BASIS` sources.
    """
    if bundle_type not in ("collection", "transaction"):
        raise RiskAssessmentError(
            f"Bundle.type: expected 'collection' or 'transaction', got {bundle_type!r}."
        )
    if len(basis) > MAX_BASIS:
        raise RiskAssessmentError(
            f"RiskAssessment.basis: {len(basis)} source resources, more than {MAX_BASIS}."
        )
    _check_sources(basis)
    resources = [
        _risk_assessment(report, entry, basis),
        _provenance(report, entry, basis),
        device_resource(report.model),
        model_card_resource(report.model),
    ]
    for resource in resources:
        validate_resource(resource)
    bundle = {
        "resourceType": "Bundle",
        "id": stable_id("Bundle", entry.entry_hash, bundle_type),
        "type": bundle_type,
        "timestamp": entry.recorded_at,
        "entry": [_entry(r, bundle_type) for r in resources],
    }
    validate_resource(bundle)
    return bundle
