"""Fetching a patient's record from a FHIR server (fhirpy), against the local test server
(tests/fhir_server.py) under a real uvicorn: bearer token and SMART Backend Services (RS384 and
ES384 client assertions), paging, other patients kept apart, and every failure a FhirServerError
naming the request, never a token."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from caselens.errors import FhirServerError
from caselens.fhir import case_from_record, server_fetch
from caselens.fhir.server_fetch import (
    BackendServices,
    BearerToken,
    access_from_settings,
    fetch_patient_record,
)
from caselens.fhir.synthetic import synthetic_record
from caselens.settings import Settings
from fhir_records import BYO_CASE, BYO_SCHEMA, CASE_DATE
from fhir_server import FhirTestServer, running

OTHER_CASE = {**BYO_CASE, "age": 41, "sex": "Male", "cholesterol": 180, "emergency_visits": 5}


def _drug_by_reference(record: bytes) -> bytes:
    """The insulin order names its drug by a reference to a Medication (as many EHRs do)."""
    data = json.loads(record)
    for entry in data["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "MedicationRequest":
            code = resource.pop("medicationCodeableConcept")
            resource["medicationReference"] = {"reference": "Medication/insulin-glargine"}
            medication = {"resourceType": "Medication", "id": "insulin-glargine", "code": code}
    data["entry"].append({"resource": medication})
    return json.dumps(data).encode()


@pytest.fixture(scope="module")
def server():
    records = [
        synthetic_record(BYO_SCHEMA, BYO_CASE, case_date=CASE_DATE, seed=1),
        _drug_by_reference(
            synthetic_record(
                BYO_SCHEMA, OTHER_CASE, case_date=CASE_DATE, seed=2, patient_id="patient-2"
            )
        ),
    ]
    test_server = FhirTestServer(records, token="site-token")
    with running(test_server) as base:
        yield test_server, base


def _pem(key, path):
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def test_a_record_fetched_with_a_token_reads_into_the_case(server):
    _, base = server
    record = fetch_patient_record(base, "patient-1", BYO_SCHEMA, auth=BearerToken("site-token"))
    intake = case_from_record(BYO_SCHEMA, record, case_date=CASE_DATE)
    assert intake.values() == BYO_CASE
    assert intake.other_patients == 0
    # Patient 2's insulin order names its drug by reference: fetched with the Medication.
    other = fetch_patient_record(base, "patient-2", BYO_SCHEMA, auth=BearerToken("site-token"))
    assert "Medication" in {r.resource_type for r in other.resources}
    assert case_from_record(BYO_SCHEMA, other, case_date=CASE_DATE).values() == OTHER_CASE


def test_searches_ask_for_the_mappings_codes_and_page_through(server, monkeypatch):
    test_server, base = server
    monkeypatch.setattr(server_fetch, "PAGE_SIZE", 2)
    test_server.requests.clear()
    record = fetch_patient_record(base, "patient-1", BYO_SCHEMA, auth=BearerToken("site-token"))
    assert case_from_record(BYO_SCHEMA, record, case_date=CASE_DATE).values() == BYO_CASE
    searches = [url for url in test_server.requests if "?" in url]
    assert any("code=http" in url and "2093-3" in url for url in searches)
    assert any("class=EMER" in url or "class=IMP" in url for url in searches)
    assert any("_offset=2" in url for url in searches)


@pytest.mark.parametrize(
    ("key", "algorithm"),
    [
        (lambda: rsa.generate_private_key(65537, 2048), "RS384"),
        (lambda: ec.generate_private_key(ec.SECP384R1()), "ES384"),
    ],
)
def test_smart_backend_services_signs_in_with_a_client_assertion(server, tmp_path, key, algorithm):
    test_server, base = server
    private = key()
    test_server.public_key = private.public_key()
    auth = BackendServices(
        client_id="caselens-test",
        token_url=base.removesuffix("/fhir") + "/token",
        private_key_file=_pem(private, tmp_path / "key.pem"),
        key_id="k1",
    )
    assert server_fetch._signing_key(auth)[1] == algorithm
    record = fetch_patient_record(base, "patient-1", BYO_SCHEMA, auth=auth)
    assert case_from_record(BYO_SCHEMA, record, case_date=CASE_DATE).values() == BYO_CASE


def test_a_client_assertion_signed_with_another_key_is_refused(server, tmp_path):
    test_server, base = server
    test_server.public_key = rsa.generate_private_key(65537, 2048).public_key()
    auth = BackendServices(
        client_id="caselens-test",
        token_url=base.removesuffix("/fhir") + "/token",
        private_key_file=_pem(rsa.generate_private_key(65537, 2048), tmp_path / "k.pem"),
        key_id="k1",
    )
    with pytest.raises(FhirServerError, match="refused the client"):
        fetch_patient_record(base, "patient-1", BYO_SCHEMA, auth=auth)


def test_a_key_of_another_curve_or_no_key_is_named(tmp_path):
    auth = BackendServices("c", "http://127.0.0.1:9/token", tmp_path / "absent.pem", "k")
    with pytest.raises(FhirServerError, match="cannot be read"):
        server_fetch.backend_services_token(auth)
    p256 = _pem(ec.generate_private_key(ec.SECP256R1()), tmp_path / "p256.pem")
    with pytest.raises(FhirServerError, match="RS384 or ES384"):
        server_fetch.backend_services_token(BackendServices("c", "http://x/t", p256, "k"))


def test_a_wrong_token_an_unknown_patient_and_a_bad_id_are_named(server):
    _, base = server
    with pytest.raises(FhirServerError, match="refused the credentials") as refused:
        fetch_patient_record(base, "patient-1", BYO_SCHEMA, auth=BearerToken("guessed"))
    assert "guessed" not in str(refused.value)
    with pytest.raises(FhirServerError, match="not found"):
        fetch_patient_record(base, "patient-9", BYO_SCHEMA, auth=BearerToken("site-token"))
    with pytest.raises(FhirServerError, match="not a FHIR id"):
        fetch_patient_record(base, "../Patient?x=1", BYO_SCHEMA, auth=BearerToken("site-token"))


def test_an_unreachable_server_is_named():
    with pytest.raises(FhirServerError, match="cannot be reached"):
        fetch_patient_record("http://127.0.0.1:9/fhir", "patient-1", BYO_SCHEMA, timeout_s=2.0)


@pytest.mark.parametrize(
    ("hostile", "words"),
    [("huge", "over 20,971,520 bytes"), ("deep", "levels deep"), ("elsewhere", "cannot be read")],
)
def test_a_hostile_answer_is_refused(server, monkeypatch, hostile, words):
    test_server, base = server
    monkeypatch.setattr(server_fetch, "PAGE_SIZE", 2)
    test_server.hostile = hostile
    try:
        with pytest.raises(FhirServerError, match=words):
            fetch_patient_record(base, "patient-1", BYO_SCHEMA, auth=BearerToken("site-token"))
    finally:
        test_server.hostile = None


def test_the_server_and_its_access_come_from_the_settings(tmp_path):
    assert access_from_settings(Settings()) is None
    token_file = tmp_path / "fhir.token"
    token_file.write_text("t0ken\n", encoding="ascii")
    configured = Settings(fhir_url="https://e/fhir", fhir_token_file=token_file)
    url, auth = access_from_settings(configured)
    assert url == "https://e/fhir" and auth == BearerToken("t0ken") and "t0ken" not in repr(auth)
    token_file.write_text("two tokens\n", encoding="ascii")
    with pytest.raises(FhirServerError, match="CASELENS_FHIR_TOKEN_FILE: expected one token"):
        access_from_settings(configured)
    _, backend = access_from_settings(
        Settings(
            fhir_url="https://e/fhir",
            fhir_client_id="c",
            fhir_token_url="https://e/token",
            fhir_private_key_file=tmp_path / "k.pem",
            fhir_key_id="k1",
        )
    )
    assert isinstance(backend, BackendServices) and "system/Observation.read" in backend.scope
    with pytest.raises(FhirServerError, match="CASELENS_FHIR_TOKEN_URL"):
        access_from_settings(Settings(fhir_url="https://e/fhir", fhir_client_id="c"))


def test_a_fetch_over_its_total_time_is_stopped(server, monkeypatch):
    _, base = server
    monkeypatch.setattr(server_fetch, "FETCH_TOTAL_S", 0.0)
    with pytest.raises(FhirServerError, match="took over 0 s in all"):
        fetch_patient_record(base, "patient-1", BYO_SCHEMA, auth=BearerToken("site-token"))
