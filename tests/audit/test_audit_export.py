"""FHIR R4 AuditEvent and CSV export."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from fhir.resources.R4B.auditevent import AuditEvent as FhirAuditEvent
from fhir.resources.R4B.bundle import Bundle

from audit_fixtures import KEY, make_event
from caselens.audit import AuditEvent, AuditStore, pseudonym, to_audit_event, to_bundle, to_csv


@pytest.fixture()
def entries(tmp_path: Path):
    with AuditStore.open(tmp_path / "a.sqlite", key=KEY) as store:
        for i in range(4):
            store.append(make_event(i))
        store.append(
            make_event(
                9,
                action="sign_in_refused",
                patient_ref=None,
                report=None,
                model_id=None,
                model_version=None,
                model_sha256=None,
                rendered_digest=None,
            )
        )
        store.append(make_event(10, action="exported", audience="system", actor_role="system"))
        return store.entries()


def test_bundle_validates_against_the_fhir_r4_model(entries):
    bundle = Bundle.model_validate(to_bundle(entries))
    assert bundle.type == "collection" and len(bundle.entry) == len(entries)


def test_display_event_follows_balp_patient_read(entries):
    viewed = next(e for e in entries if e.action == "viewed")
    resource = to_audit_event(viewed)
    event = FhirAuditEvent.model_validate(resource)
    assert (event.type.system, event.type.code) == (
        "http://terminology.hl7.org/CodeSystem/audit-event-type",
        "rest",
    )
    assert event.subtype[0].code == "read" and event.action == "R" and event.outcome == "0"
    assert resource["recorded"] == viewed.recorded_at
    assert event.recorded.isoformat(timespec="milliseconds") == viewed.recorded_at.replace(
        "Z", "+00:00"
    )
    agent = event.agent[0]
    assert agent.requestor is True and agent.who.identifier.value == viewed.actor_id
    assert agent.who.display == viewed.actor_name and agent.role[0].text == viewed.actor_role
    assert event.source.observer.display == "CaseLens"
    patient, report = event.entity
    assert patient.role.code == "1" and patient.what.identifier.value == viewed.patient_ref
    assert report.role.code == "3" and report.what.identifier.value == viewed.entry_hash
    details = {d.type: d.valueString for d in report.detail}
    assert details["model_id"] == viewed.model_id
    assert details["model_version"] == viewed.model_version


def test_refused_sign_in_has_no_patient_and_a_failure_outcome(entries):
    resource = to_audit_event(next(e for e in entries if e.action == "sign_in_refused"))
    FhirAuditEvent.model_validate(resource)
    assert resource["outcome"] == "4" and resource["action"] == "E"
    assert len(resource["entity"]) == 1


def test_pseudonymised_export_carries_no_patient_reference(entries):
    bundle = to_bundle(entries, pseudonymise_key=KEY)
    Bundle.model_validate(bundle)
    text = str(bundle)
    assert "P-000" not in text
    first = bundle["entry"][0]["resource"]["entity"][0]["what"]["identifier"]
    assert first["value"] == pseudonym(entries[0].patient_ref, key=KEY)


def test_empty_bundle_is_valid():
    Bundle.model_validate(to_bundle([]))


def test_csv_has_one_row_per_entry_and_no_report_text(entries):
    rows = list(csv.DictReader(io.StringIO(to_csv(entries))))
    assert [int(r["seq"]) for r in rows] == [e.seq for e in entries]
    assert rows[0]["entry_hash"] == entries[0].entry_hash
    assert "report_json" not in rows[0]


@pytest.mark.parametrize(
    "typed",
    [
        '=HYPERLINK("http://127.0.0.1/x","click")',
        "+1+2",
        "-2+3",
        "@SUM(A1:A2)",
        "\tindent",
        "\r=1",
    ],
)
def test_csv_cells_that_a_spreadsheet_would_evaluate_are_neutralised(tmp_path, typed):
    # A user name typed on the sign-in form reaches the trail (sign_in_refused) and its
    # export: in CSV it must stay text, with the characters intact after the quote.
    with AuditStore.open(tmp_path / "audit.sqlite", key=bytes(32)) as store:
        store.append(
            AuditEvent(
                actor_id=typed,
                actor_name="(not signed in)",
                actor_role="anonymous",
                audience="system",
                action="sign_in_refused",
            )
        )
        entries = store.entries()
    rows = list(csv.DictReader(io.StringIO(to_csv(entries), newline="")))
    assert rows[0]["actor_id"] == "'" + typed
    fhir = json.dumps(to_bundle(entries))
    assert json.dumps(typed)[1:-1] in fhir  # FHIR keeps the string exact


def test_plain_cells_and_numbers_are_left_as_they_are(entries):
    rows = list(csv.DictReader(io.StringIO(to_csv(entries))))
    assert all(not r["seq"].startswith("'") for r in rows)
    assert all(not r["actor_id"].startswith("'") for r in rows)
