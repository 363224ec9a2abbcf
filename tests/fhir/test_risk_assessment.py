"""The result written back as FHIR: RiskAssessment + Provenance + AI Device + model card.

Real reports of both sample bundles and of a bundle CaseLens did not train (calibrated and
not), recorded in a real audit trail; every bundle is read back with the ``fhir.resources``
R4B models, and its figures are compared with the report's own.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from dataclasses import dataclass

import pytest
from fhir.resources.R4B.bundle import Bundle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from app_helpers import PAYLOADS
from caselens.access.policy import Viewer
from caselens.audit import AuditStore
from caselens.explain.cases import validate_inputs
from caselens.explain.report import CaseReport, explainer_for
from caselens.fhir import RiskAssessmentError, risk_assessment_bundle
from caselens.fhir.risk_assessment import MAX_BASIS, NOT_A_DIAGNOSIS
from caselens.fhir.risk_codes import (
    AI_CONFIDENCE_EXTENSION,
    AI_DEVICE_PROFILE,
    AI_MODEL_CARD_PROFILE,
    AI_PROVENANCE_PROFILE,
    ENTRY_HASH_SYSTEM,
    ENTRY_NUMBER_SYSTEM,
    MODEL_CARD_EXTENSION,
    MODEL_SCORE_EXTENSION,
)
from caselens.model.bundle import ModelBundle
from caselens.workflow import record_display

KEY = bytes.fromhex("5a" * 32)
#: A FHIR id as R4 defines it.
FHIR_ID = r"[A-Za-z0-9\-.]{1,64}"
VIEWER = Viewer("dr.lee", "Dr. Ana Lee", "clinician")


@dataclass(frozen=True)
class Source:
    """A source resource as the intake describes one (resource_type, resource_id, version,
    date)."""

    resource_type: str
    resource_id: str
    version: str | None
    date: str | None


def report_for(bundle: ModelBundle, case_id: str = "P-0001") -> CaseReport:
    """The report of the bundle's first demo case, or of its first reference row."""
    if bundle.demo_cases:
        inputs = dict(bundle.demo_cases[0].inputs)
    else:
        row = bundle.reference.iloc[0]
        inputs = {name: row[name].item() for name in bundle.features.names}
    case = validate_inputs(inputs, bundle.features, source="demo", case_id=case_id)
    return explainer_for(bundle).explain(case)


@pytest.fixture(scope="module")
def trail(tmp_path_factory):
    store = AuditStore.open(tmp_path_factory.mktemp("trail") / "audit.sqlite", key=KEY)
    yield store
    store.close()


@pytest.fixture(scope="module")
def shown(trail, sample_bundles, other_family_bundles):
    """One recorded display per bundle: name → (report, entry)."""
    bundles = {
        "heart": sample_bundles["heart-disease"],
        "readmission": sample_bundles["readmission-30d"],
        "byo-calibrated": other_family_bundles["calibrated"],
        "byo-uncalibrated": other_family_bundles["uncalibrated"],
    }
    displays = {}
    for name, bundle in bundles.items():
        report = report_for(bundle)
        entry = record_display(trail, report, VIEWER, audience="clinician", action="viewed")
        displays[name] = (report, entry)
    return displays


def resources(bundle: dict) -> dict[str, dict]:
    return {item["resource"]["resourceType"]: item["resource"] for item in bundle["entry"]}


@pytest.mark.parametrize("name", ["heart", "readmission", "byo-calibrated", "byo-uncalibrated"])
def test_the_bundle_is_valid_r4_and_profiled_as_the_ai_transparency_guide_says(shown, name):
    report, entry = shown[name]
    bundle = risk_assessment_bundle(report, entry, ())
    Bundle.model_validate(bundle)  # the whole bundle, read back with the R4B models
    found = resources(bundle)
    assert set(found) == {"RiskAssessment", "Provenance", "Device", "DocumentReference"}
    assert found["Device"]["meta"]["profile"] == [AI_DEVICE_PROFILE]
    assert found["Provenance"]["meta"]["profile"] == [AI_PROVENANCE_PROFILE]
    assert found["DocumentReference"]["meta"]["profile"] == [AI_MODEL_CARD_PROFILE]
    assessment = found["RiskAssessment"]
    assert assessment["meta"]["security"][0]["code"] == "AIAST"
    assert assessment["status"] == "final"
    assert assessment["subject"]["identifier"]["value"] == report.case.case_id
    assert assessment["occurrenceDateTime"] == entry.recorded_at
    assert assessment["note"][0]["text"].startswith(NOT_A_DIAGNOSIS)
    # The model: name, version and the model file's SHA-256, as method, performer and Device.
    device = found["Device"]
    assert assessment["performer"]["reference"] == f"urn:uuid:{device['id']}"
    assert report.model.sha256 in assessment["method"]["text"]
    assert {i["value"] for i in device["identifier"]} >= {report.model.sha256}
    assert device["version"][0]["value"] == report.model.version
    card_ref = next(e for e in device["extension"] if e["url"] == MODEL_CARD_EXTENSION)
    assert card_ref["valueReference"]["reference"] == f"urn:uuid:{found['DocumentReference']['id']}"
    # Provenance: the RiskAssessment, at the entry's time, by the model, shown to the viewer,
    # with the audit entry (number and hash) as an entity.
    provenance = found["Provenance"]
    assert provenance["target"] == [{"reference": f"urn:uuid:{assessment['id']}"}]
    assert provenance["recorded"] == entry.recorded_at
    who = [a["who"] for a in provenance["agent"]]
    assert who[0]["reference"] == f"urn:uuid:{device['id']}"
    assert who[1]["identifier"]["value"] == VIEWER.user_id
    audit_entity = next(
        e for e in provenance["entity"] if e["what"].get("identifier", {}).get("system")
    )
    assert audit_entity["what"]["identifier"] == {
        "system": ENTRY_HASH_SYSTEM,
        "value": entry.entry_hash,
    }
    assert f"#{entry.seq}" in audit_entity["what"]["display"]
    numbers = {i["system"]: i["value"] for i in assessment["identifier"]}
    assert numbers[ENTRY_NUMBER_SYSTEM] == str(entry.seq)


@pytest.mark.parametrize("name", ["heart", "readmission", "byo-calibrated"])
def test_probability_interval_and_threshold_side_are_the_reports_own(shown, name):
    report, entry = shown[name]
    assert report.confidence.calibrated
    prediction = resources(risk_assessment_bundle(report, entry))["RiskAssessment"]["prediction"][0]
    assert prediction["probabilityDecimal"] == report.confidence.probability
    assert prediction["outcome"]["text"] == report.model.outcome
    assert prediction["qualitativeRisk"]["coding"][0]["code"] == report.confidence.side
    assert prediction["qualitativeRisk"]["text"] == report.confidence.side_statement
    interval = report.confidence.interval
    confidence = [e for e in prediction.get("extension", []) if e["url"] == AI_CONFIDENCE_EXTENSION]
    if interval is None:
        assert confidence == []
    else:
        (extension,) = confidence
        assert extension["valueRange"]["low"]["value"] == interval.low
        assert extension["valueRange"]["high"]["value"] == interval.high


def test_an_uncalibrated_score_is_not_written_as_a_probability(shown):
    report, entry = shown["byo-uncalibrated"]
    assert not report.confidence.calibrated
    assessment = resources(risk_assessment_bundle(report, entry))["RiskAssessment"]
    prediction = assessment["prediction"][0]
    assert "probabilityDecimal" not in prediction
    urls = {e["url"]: e for e in prediction["extension"]}
    assert AI_CONFIDENCE_EXTENSION not in urls
    assert urls[MODEL_SCORE_EXTENSION]["valueDecimal"] == report.confidence.probability
    notes = " ".join(n["text"] for n in assessment["note"])
    assert "not calibrated" in notes and "not a probability" in notes
    assert "not a probability" in prediction["rationale"]


def test_ids_are_derived_from_the_entry_so_exporting_twice_gives_the_same_bundle(shown):
    report, entry = shown["heart"]
    first = risk_assessment_bundle(report, entry)
    assert risk_assessment_bundle(report, entry) == first
    other_report, other_entry = shown["readmission"]
    other = risk_assessment_bundle(other_report, other_entry)
    assert resources(first)["RiskAssessment"]["id"] != resources(other)["RiskAssessment"]["id"]
    transaction = risk_assessment_bundle(report, entry, bundle_type="transaction")
    Bundle.model_validate(transaction)
    assert [e["request"] for e in transaction["entry"]] == [
        {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}
        for r in (e["resource"] for e in first["entry"])
    ]


def test_the_basis_is_the_source_resources_and_a_hand_typed_case_says_so(shown):
    report, entry = shown["heart"]
    hand = resources(risk_assessment_bundle(report, entry))["RiskAssessment"]
    assert "basis" not in hand
    assert any("entered by hand" in n["text"] for n in hand["note"])
    sources = [
        Source("Patient", "pat-7", "3", None),
        Source("Observation", "chol-1", "1", "2026-11-30"),
        Source("Condition", "dx-9", None, "2025-01-02"),
    ]
    bundle = risk_assessment_bundle(report, entry, sources)
    found = resources(bundle)
    assessment = found["RiskAssessment"]
    assert [b["reference"] for b in assessment["basis"]] == [
        "Patient/pat-7/_history/3",
        "Observation/chol-1/_history/1",
        "Condition/dx-9",
    ]
    assert assessment["subject"]["reference"] == "Patient/pat-7"
    assert assessment["subject"]["identifier"]["value"] == report.case.case_id
    assert not any("entered by hand" in n["text"] for n in assessment["note"])
    entity_refs = {e["what"].get("reference") for e in found["Provenance"]["entity"]}
    assert "Observation/chol-1/_history/1" in entity_refs


def _hostile(report: CaseReport, text: str) -> CaseReport:
    model = report.model.model_copy(
        update={"name": text, "outcome": text, "intended_use": text, "time_window": text}
    )
    return report.model_copy(update={"model": model})


def _rendered_card(bundle: dict) -> str:
    card = resources(bundle)["DocumentReference"]
    markdown = base64.b64decode(card["content"][0]["attachment"]["data"]).decode("utf-8")
    return MarkdownIt("commonmark").render(markdown)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_hostile_card_words_are_data_verbatim_in_json_and_escaped_in_markdown(shown, payload):
    report, entry = shown["heart"]
    bundle = risk_assessment_bundle(_hostile(report, payload), entry)
    Bundle.model_validate(bundle)
    found = resources(bundle)
    assert found["RiskAssessment"]["prediction"][0]["outcome"]["text"] == payload
    assert found["Device"]["deviceName"][0]["name"] == payload
    # Markdown fields (the notes, the card) carry the words as escaped literals: rendered,
    # they are text, never a tag or a link.
    html = _rendered_card(bundle)
    notes = MarkdownIt("commonmark").render(found["RiskAssessment"]["note"][0]["text"])
    for rendered in (html, notes):
        for tag in ("<script", "<img", "<iframe", "<style", "<meta", "<form", "<a ", "<input"):
            assert tag not in rendered
        assert 'href="javascript' not in rendered
    assert json.loads(json.dumps(bundle)) == bundle


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    words=st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=80).filter(
        str.strip
    )
)
def test_any_card_words_give_a_valid_bundle_and_a_card_without_markup(shown, words):
    report, entry = shown["byo-calibrated"]
    bundle = risk_assessment_bundle(_hostile(report, words), entry)
    Bundle.model_validate(bundle)
    html = _rendered_card(bundle)
    assert "<script" not in html and "<img" not in html and "<a " not in html


def test_a_result_without_a_patient_or_with_too_many_sources_is_refused_by_name(shown):
    report, entry = shown["heart"]
    nameless = report.model_copy(update={"case": report.case.model_copy(update={"case_id": None})})
    with pytest.raises(RiskAssessmentError, match=r"RiskAssessment\.subject"):
        risk_assessment_bundle(nameless, entry)
    many = [Source("Observation", f"o{i}", None, None) for i in range(MAX_BASIS + 1)]
    with pytest.raises(RiskAssessmentError, match=r"RiskAssessment\.basis"):
        risk_assessment_bundle(report, entry, many)
    with pytest.raises(RiskAssessmentError, match="RiskAssessment is not valid FHIR R4: "):
        risk_assessment_bundle(_hostile(report, "\x0c"), entry)  # blank words
    with pytest.raises(RiskAssessmentError, match=r"Bundle\.type"):
        risk_assessment_bundle(report, entry, bundle_type="batch")  # type: ignore[arg-type]


def test_an_invalid_resource_is_refused_with_its_field_named(shown):
    report, entry = shown["heart"]
    bad = dataclasses.replace(entry, recorded_at="yesterday at noon")
    with pytest.raises(RiskAssessmentError, match="RiskAssessment is not valid FHIR R4: "):
        risk_assessment_bundle(report, bad)


def test_the_intakes_own_source_resources_are_a_basis(shown):
    """The intake's ``SourceResource`` (another branch of issue 24) fits the basis parameter;
    until that branch is merged this test is skipped."""
    intake = pytest.importorskip("caselens.fhir.intake")
    report, entry = shown["readmission"]
    sources = [
        intake.SourceResource("Patient", "p-1", "2", None),
        intake.SourceResource("Observation", "hba1c-3", "1", "2026-11-02"),
    ]
    bundle = risk_assessment_bundle(report, entry, sources)
    assessment = resources(bundle)["RiskAssessment"]
    assert [b["reference"] for b in assessment["basis"]] == [s.reference for s in sources]
    assert assessment["subject"]["reference"] == "Patient/p-1"


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    kind=st.from_regex(r"[A-Z][A-Za-z]{0,20}", fullmatch=True) | st.text(max_size=20),
    ident=st.from_regex(FHIR_ID, fullmatch=True) | st.text(max_size=70),
    version=st.none() | st.from_regex(FHIR_ID, fullmatch=True) | st.text(max_size=10),
)
def test_a_source_is_written_as_a_reference_only_in_fhirs_own_shape(shown, kind, ident, version):
    report, entry = shown["heart"]
    source = Source(kind, ident, version, None)
    try:
        bundle = risk_assessment_bundle(report, entry, [source])
    except RiskAssessmentError as exc:
        assert str(exc).startswith("RiskAssessment.basis[0].")
        return
    (reference,) = [b["reference"] for b in resources(bundle)["RiskAssessment"]["basis"]]
    assert re.fullmatch(rf"[A-Z][A-Za-z]*/{FHIR_ID}(/_history/{FHIR_ID})?", reference)


def test_a_hostile_source_id_is_refused_by_name(shown):
    report, entry = shown["heart"]
    for bad in ("../Patient/other", "a b", "x" * 65, "http://evil/x"):
        with pytest.raises(RiskAssessmentError, match=r"basis\[0\]\.resource_id"):
            risk_assessment_bundle(report, entry, [Source("Observation", bad, None, None)])
