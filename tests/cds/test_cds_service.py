"""The CDS Hooks service under a real uvicorn server, called by a real HTTP client with
spec-shaped, signed requests (keys generated here): discovery, cards, feedback, and every
refused token."""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Mount

from caselens.bench.app import free_port
from caselens.bench.cds_ehr import (
    HEART,
    SimulatedEhr,
    cds_server,
    fhir_test_server,
    heart_prefetch,
    hook_request,
    mapped_heart_disease,
    write_issuers,
)
from caselens.cds import create_app
from caselens.cds.app import CdsConfig
from caselens.cds.serve import config_from_settings
from caselens.monitoring.clinician_use import feedback_by_period
from caselens.runtime import Runtime
from caselens.settings import Settings
from lifecycle_fixtures import approve_first_versions

APP_URL = "https://caselens.example.org"
PATIENT = "pat-0042"
#: The patient whose record only the EHR's FHIR server holds, and the EHR's access token.
FETCHED = "pat-fetched-1"
FHIR_TOKEN = "ehr-access-token-5f1c9a"


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[dict]:
    """One service (heart-disease mapped to FHIR) on a free port, for the whole module."""
    root = tmp_path_factory.mktemp("cds")
    models = root / "models"
    models.mkdir()
    mapped_heart_disease(models)
    fhir_port = free_port()
    fhir_base = f"http://127.0.0.1:{fhir_port}/r4"
    ehr = SimulatedEhr(fhir_servers=(fhir_base,))
    rsa_ehr = SimulatedEhr(issuer="https://rsa-ehr.example.org", rsa=True)
    port = free_port()
    settings = Settings(
        data_dir=root / "data",
        models_dir=models,
        cds_url=f"http://127.0.0.1:{port}",
        # A locally mapped copy: no publisher's signature (docs/bundle-signing.md).
        require_signed_bundles=False,
        cds_issuers_file=write_issuers(root / "keys", ehr, rsa_ehr),
        app_url=APP_URL,
    )
    runtime = Runtime.from_settings(settings, background=False)
    approve_first_versions(runtime.workflow)  # a deployment's first version, approved
    runtime.explainer(HEART)  # warm: the first card is not the model's first load
    app = create_app(runtime, config_from_settings(settings))
    # The EHR's FHIR server holds FETCHED's record (the first demo case), for the fetch path.
    today = dt.datetime.now(dt.UTC).date()
    record = heart_prefetch(FETCHED, _inputs(runtime), case_date=today)
    resources = [record["patient"]] + [e["resource"] for e in record["observation"]["entry"]]
    fhir = fhir_test_server(resources, token=FHIR_TOKEN)
    with (
        cds_server(Mount("/r4", fhir), fhir_port),
        cds_server(app, port) as base,
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        yield {
            "client": client,
            "base": base,
            "ehr": ehr,
            "rsa": rsa_ehr,
            "runtime": runtime,
            "fhir": fhir,
            "fhir_base": fhir_base,
        }
    runtime.close()


def _inputs(runtime: Runtime, index: int = 0) -> dict:
    return dict(runtime.catalogue.bundles[HEART].demo_cases[index].inputs)


def _call(service, body: dict, *, token: str | None = None, path: str = "") -> httpx.Response:
    url = f"/cds-services/{HEART}{path}"
    token = token or service["ehr"].token(service["base"] + url)
    return service["client"].post(url, json=body, headers={"Authorization": f"Bearer {token}"})


def _prefetch(service, index: int = 0, **kwargs) -> dict:
    today = dt.datetime.now(dt.UTC).date()
    return heart_prefetch(PATIENT, _inputs(service["runtime"], index), case_date=today, **kwargs)


def _last_entry(service):
    return service["runtime"].audit_store.entries()[-1]


# -- discovery --------------------------------------------------------------------------------


def test_discovery_lists_each_active_model_with_prefetch_from_its_mapping(service):
    answer = service["client"].get("/cds-services")
    assert answer.status_code == 200
    (listed,) = answer.json()["services"]
    assert listed["hook"] == "patient-view" and listed["id"] == HEART
    assert listed["title"].startswith("Heart disease") and listed["description"]
    prefetch = listed["prefetch"]
    assert prefetch["patient"] == "Patient/{{context.patientId}}"
    search = prefetch["observation"]
    assert search.startswith("Observation?patient={{context.patientId}}&code=")
    assert "http://loinc.org|2093-3" in search and "http://loinc.org|8480-6" in search


def test_a_suspended_model_is_not_listed_and_its_call_gets_a_short_info_card(service):
    statuses = service["runtime"].model_statuses
    statuses.set(HEART, suspended=True, reason="Calibration drift under review.", by="admin")
    try:
        assert service["client"].get("/cds-services").json()["services"] == []
        answer = _call(service, hook_request(PATIENT, _prefetch(service)))
    finally:
        statuses.set(HEART, suspended=False, reason="Review finished, reinstated.", by="admin")
    assert answer.status_code == 200
    (card,) = answer.json()["cards"]
    assert card["indicator"] == "info" and "suspended" in card["summary"]
    assert "%" not in card["summary"] + card["detail"]  # no probability
    assert "uuid" not in card and "links" not in card
    entry = _last_entry(service)
    assert entry.action == "cds_card_withheld" and entry.detail()["reason"] == "model suspended"


# -- cards ------------------------------------------------------------------------------------


def test_a_card_gives_the_probability_recorded_before_it_is_returned(service):
    body = hook_request(PATIENT, _prefetch(service))
    answer = _call(service, body)
    assert answer.status_code == 200, answer.text
    (card,) = answer.json()["cards"]
    entry = _last_entry(service)
    assert entry.action == "viewed" and entry.patient_ref == PATIENT
    assert entry.actor_id == "Practitioner/7" and entry.actor_role == "clinician"
    detail = entry.detail()
    assert detail["card_uuid"] == card["uuid"] and detail["client"] == service["ehr"].issuer
    assert detail["hook_instance"] == body["hookInstance"]
    assert detail["sources"]["cholesterol"] == [f"Observation/cholesterol-{PATIENT}"]
    report = json.loads(entry.report_json)
    # The stored report keeps where each value came from, as a case read in the app does.
    kept = {f["feature"]: f for f in report["case"]["record_sources"]["fields"]}
    assert kept["cholesterol"]["status"] == "filled"
    assert kept["cholesterol"]["sources"][0]["resource_id"] == f"cholesterol-{PATIENT}"
    assert report["case"]["record_sources"]["patient_id"] == PATIENT
    shown = f"{100 * report['confidence']['probability']:.1f}%"
    assert shown in card["summary"] and len(card["summary"]) < 140
    assert card["summary"].startswith("Chance of heart disease")
    side = report["confidence"]["side"]
    assert ("below the 50.0% threshold" in card["summary"]) == (side == "below")
    assert card["indicator"] == ("info" if side == "below" else "warning")
    assert "Not a diagnosis" in card["detail"] and "Heart disease at angiography" in card["detail"]
    assert "Likely range" in card["detail"]
    assert card["source"]["url"] == f"{APP_URL}/model_facts?model={HEART}"
    # The entry's link first, then the owners' next steps (tests/cds/test_cds_next_steps.py).
    link, *steps = card["links"]
    assert link["type"] == "absolute" and link["url"] == f"{APP_URL}/audit_trail?entry={entry.seq}"
    assert [s["url"] for s in steps] == [s["link"] for s in report["next_steps"]["steps"]]
    assert (
        link["label"]
        == f"This card as recorded in CaseLens (entry #{entry.seq}; for safety reviewers)"
    )


def test_the_card_names_the_top_factors_with_this_patients_values(service):
    answer = _call(service, hook_request(PATIENT, _prefetch(service)))
    detail = answer.json()["cards"][0]["detail"]
    report = json.loads(_last_entry(service).report_json)
    shap = sorted(report["attributions"]["shap"]["contributions"], key=lambda c: -abs(c["value"]))
    top = shap[0]
    value_text = {v["name"]: v["value_text"] for v in report["attributions"]["variables"]}
    assert top["label"] in detail
    assert value_text[top["name"]].split()[0] in detail


def test_a_missing_input_gives_a_card_that_names_it_and_no_probability(service):
    prefetch = _prefetch(service, leave_out=("cholesterol",))
    answer = _call(service, hook_request(PATIENT, prefetch))
    assert answer.status_code == 200
    (card,) = answer.json()["cards"]
    assert "no estimate" in card["summary"] and "1 input missing" in card["summary"]
    assert "Serum cholesterol" in card["detail"] and "%" not in card["summary"]
    assert card["indicator"] == "info" and "uuid" not in card
    # Named once, with the intake's reason; the link opens CaseLens to enter it.
    assert card["detail"].count("Serum cholesterol") == 1 and "LOINC 2093" in card["detail"]
    (link,) = card["links"]
    assert link == {
        "label": "Open CaseLens to enter the missing inputs",
        "url": f"{APP_URL}/",
        "type": "absolute",
    }
    entry = _last_entry(service)
    assert entry.action == "cds_card_withheld" and entry.detail()["missing"] == ["cholesterol"]


def test_a_prefetch_key_not_sent_is_412_and_nothing_is_shown(service):
    before = len(service["runtime"].audit_store.entries())
    answer = _call(service, hook_request(PATIENT, {"patient": None}))
    assert answer.status_code == 412 and "observation" in answer.json()["error"]
    assert len(service["runtime"].audit_store.entries()) == before


def _fetch_call(service, server: str, token: str = FHIR_TOKEN) -> dict:
    body = hook_request(FETCHED, None)
    body["fhirServer"] = server
    body["fhirAuthorization"] = {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/Patient.read patient/Observation.read",
        "subject": "cds-service",
    }
    return body


def test_without_prefetch_the_record_is_read_from_the_ehrs_fhir_server(service):
    asked = service["fhir"].state.requests
    before = len(asked)
    answer = _call(service, _fetch_call(service, service["fhir_base"]))
    assert answer.status_code == 200, answer.text
    card = answer.json()["cards"][0]
    assert "uuid" in card  # a probability: every input came from the server
    paths = [path for path, _ in asked[before:]]
    assert paths[0] == f"/r4/Patient/{FETCHED}?"
    assert sum(p.startswith("/r4/Observation?") for p in paths) == 3  # 11 results, 3 pages
    assert {auth for _, auth in asked[before:]} == {f"Bearer {FHIR_TOKEN}"}
    entry = _last_entry(service)
    assert entry.patient_ref == FETCHED and entry.detail()["card_uuid"] == card["uuid"]
    # The EHR's access token is used, never kept: not in the entry, not in the app database.
    assert FHIR_TOKEN not in (entry.report_json or "") + entry.detail_json
    database = service["runtime"].app_database
    with database.connect() as conn:
        for table in ("cds_cards", "cds_token_ids"):
            rows = conn.exec_driver_sql(f"SELECT * FROM {table}").all()
            assert FHIR_TOKEN not in repr(rows)


def test_a_fhir_server_the_operator_did_not_list_is_never_read(service):
    asked = service["fhir"].state.requests
    before = len(asked)
    elsewhere = service["fhir_base"].replace("/r4", "/other")
    answer = _call(service, _fetch_call(service, elsewhere))
    assert answer.status_code == 412 and len(asked) == before


def test_a_refused_fhir_read_is_412_naming_the_key_not_the_url(service):
    answer = _call(service, _fetch_call(service, service["fhir_base"], token="wrong"))
    assert answer.status_code == 412
    error = answer.json()["error"]
    assert "'patient'" in error and "HTTP 401" in error and FETCHED not in error


def test_hostile_record_text_cannot_add_markup_to_a_card(service):
    prefetch = _prefetch(service)
    for entry in prefetch["observation"]["entry"]:
        if entry["resource"]["code"]["coding"][0]["code"] == "chest-pain-type":
            entry["resource"]["valueString"] = "[click](javascript:alert(1)) <img src=x>"
    answer = _call(service, hook_request(PATIENT, prefetch))
    card = answer.json()["cards"][0]
    # Not a category the model knows: named as missing, escaped, never a link or HTML.
    assert "no estimate" in card["summary"] and "Chest pain type" in card["detail"]
    assert "<img" not in card["detail"] and "](javascript" not in card["detail"]


def test_a_card_the_trail_cannot_take_is_not_returned(service):
    trail = Path(service["runtime"].audit_location.removeprefix("sqlite:///"))
    other = sqlite3.connect(trail, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock: appends fail
    try:
        answer = _call(service, hook_request(PATIENT, _prefetch(service, 1)))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert answer.status_code == 500 and "cards" not in answer.json()
    assert "audit trail" in answer.json()["error"]


# -- tokens -----------------------------------------------------------------------------------


def _refused(service, token: str, path: str = "") -> httpx.Response:
    answer = _call(service, hook_request(PATIENT, _prefetch(service)), token=token, path=path)
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "cards" not in answer.json()
    return answer


def _aud(service) -> str:
    return f"{service['base']}/cds-services/{HEART}"


def test_an_rs384_token_of_another_configured_ehr_is_accepted(service):
    answer = _call(
        service,
        hook_request(PATIENT, _prefetch(service)),
        token=service["rsa"].token(_aud(service)),
    )
    assert answer.status_code == 200
    assert _last_entry(service).detail()["client"] == "https://rsa-ehr.example.org"


def test_a_forged_signature_is_refused(service):
    forger = ec.generate_private_key(ec.SECP384R1())
    _refused(service, service["ehr"].token(_aud(service), key=forger))


def test_an_expired_token_is_refused(service):
    issued = time.time() - 600
    _refused(service, service["ehr"].token(_aud(service), issued_at=issued, lifetime_s=120))


def test_a_token_living_longer_than_five_minutes_is_refused(service):
    answer = _refused(service, service["ehr"].token(_aud(service), lifetime_s=3600))
    assert "at most 300 s" in answer.json()["error"]


def test_a_token_issued_in_the_future_is_refused(service):
    _refused(service, service["ehr"].token(_aud(service), issued_at=time.time() + 600))


def test_a_replayed_jti_is_refused(service):
    token = service["ehr"].token(_aud(service))
    assert _call(service, hook_request(PATIENT, _prefetch(service)), token=token).status_code == 200
    answer = _refused(service, token)
    assert "already used" in answer.json()["error"]


def test_a_token_for_another_audience_is_refused(service):
    _refused(service, service["ehr"].token(f"{service['base']}/cds-services/other-model"))
    _refused(service, service["ehr"].token("https://elsewhere.example.org/cds-services/" + HEART))


def test_an_unknown_issuer_is_refused(service):
    stranger = SimulatedEhr(issuer="https://unknown-ehr.example.org")
    answer = _refused(service, stranger.token(_aud(service)))
    assert "not a configured EHR" in answer.json()["error"]


def test_alg_none_and_shared_secret_tokens_are_refused(service):
    claims = {
        "iss": service["ehr"].issuer,
        "sub": "x",
        "aud": _aud(service),
        "iat": int(time.time()),
        "exp": int(time.time()) + 60,
        "jti": "n-1",
    }
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": service["ehr"].kid})
    assert "not allowed" in _refused(service, unsigned).json()["error"]
    # HS384 keyed with the issuer's public JWK text: the classic algorithm-confusion attack
    # (signed by hand: PyJWT itself refuses to use a public key as an HMAC secret).
    secret = json.dumps(service["ehr"].jwk).encode()
    header = {"alg": "HS384", "typ": "JWT", "kid": service["ehr"].kid}
    signing = b".".join(_b64(part) for part in (header, claims | {"jti": "n-2"}))
    signature = base64.urlsafe_b64encode(hmac.digest(secret, signing, "sha384")).rstrip(b"=")
    hs = (signing + b"." + signature).decode()
    assert "not allowed" in _refused(service, hs).json()["error"]


def _b64(part: dict) -> bytes:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=")


def test_a_token_without_kid_or_without_bearer_is_refused(service):
    token = service["ehr"].token(_aud(service), headers={"kid": None})
    _refused(service, token)
    answer = service["client"].post(f"/cds-services/{HEART}", json={})
    assert answer.status_code == 401


def test_a_jku_in_the_header_does_not_bring_its_own_key(service):
    forger = ec.generate_private_key(ec.SECP384R1())
    token = service["ehr"].token(
        _aud(service), key=forger, headers={"jku": "https://attacker.example.org/jwks"}
    )
    _refused(service, token)


# -- requests ---------------------------------------------------------------------------------


def test_an_oversized_body_is_refused_before_it_is_read_whole(service):
    token = service["ehr"].token(_aud(service))
    answer = service["client"].post(
        f"/cds-services/{HEART}",
        content=b"{" + b" " * 10_000_001 + b"}",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 413


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"hook": "order-select", "hookInstance": "x", "context": {}}, 400),
        ({"hook": "patient-view", "hookInstance": "x", "context": {"userId": "u"}}, 400),
        (
            {
                "hook": "patient-view",
                "hookInstance": "x",
                "context": {"userId": "u", "patientId": "<script>"},
                "prefetch": {},
            },
            400,
        ),
        (
            {
                "hook": "patient-view",
                "hookInstance": "x",
                "context": {"userId": "u", "patientId": "p1"},
                "prefetch": {},
            },
            412,
        ),
    ],
)
def test_a_request_that_is_not_a_patient_view_call_is_refused(service, body, status):
    assert _call(service, body).status_code == status


def test_an_unknown_service_is_404(service):
    url = "/cds-services/no-such-model"
    token = service["ehr"].token(service["base"] + url)
    answer = service["client"].post(url, json={}, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 404


# -- feedback ---------------------------------------------------------------------------------


def test_feedback_is_recorded_against_the_cards_entry_and_counted(service):
    answer = _call(service, hook_request(PATIENT, _prefetch(service, 2)))
    card = answer.json()["cards"][0]
    card_entry = _last_entry(service)
    feedback = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "overrideReason": {
                    "reason": {"code": "not-relevant", "system": "urn:ehr", "display": "N/A"},
                    "userComment": "Seen in clinic yesterday",
                },
                "outcomeTimestamp": dt.datetime.now(dt.UTC).isoformat(),
            }
        ]
    }
    sent = _call(service, feedback, path="/feedback")
    assert sent.status_code == 200, sent.text
    entry = _last_entry(service)
    assert entry.action == "feedback" and entry.model_id == HEART
    assert entry.detail()["entry_seq"] == card_entry.seq
    assert entry.detail()["cds_outcome"] == "overridden"
    assert entry.detail()["override_reason"] == "not-relevant"
    figures = feedback_by_period(service["runtime"].audit_store.engine, HEART)
    assert sum(f.card_overridden for f in figures) >= 1


def test_feedback_on_an_unknown_card_is_404_and_not_recorded(service):
    before = len(service["runtime"].audit_store.entries())
    body = {"feedback": [{"card": "00000000-0000-4000-8000-000000000000", "outcome": "accepted"}]}
    assert _call(service, body, path="/feedback").status_code == 404
    assert len(service["runtime"].audit_store.entries()) == before


def test_feedback_needs_its_own_audience(service):
    body = {"feedback": [{"card": "00000000-0000-4000-8000-000000000000", "outcome": "accepted"}]}
    token = service["ehr"].token(_aud(service))  # the service's aud, not the feedback's
    assert _call(service, body, token=token, path="/feedback").status_code == 401


# -- rate limit -------------------------------------------------------------------------------


def test_an_issuer_over_its_rate_gets_429_with_retry_after(tmp_path, service):
    from caselens.cds.rate_limit import IssuerRateLimit

    runtime = service["runtime"]
    port = free_port()
    config = CdsConfig(base_url=f"http://127.0.0.1:{port}", issuers=_issuers(service))
    app = create_app(runtime, config, rate_limit=IssuerRateLimit(burst=2, per_second=0.01))
    with cds_server(app, port) as base, httpx.Client(base_url=base) as client:
        url = f"/cds-services/{HEART}/feedback"
        codes = []
        for _ in range(3):
            token = service["ehr"].token(base + url)
            body = {
                "feedback": [
                    {"card": "00000000-0000-4000-8000-000000000000", "outcome": "accepted"}
                ]
            }
            answer = client.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
            codes.append(answer.status_code)
    assert codes == [404, 404, 429]
    assert int(answer.headers["retry-after"]) >= 1


def _issuers(service):
    return service["runtime"].workflow and config_from_settings(service["runtime"].settings).issuers


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=15,
)
_hookish = st.fixed_dictionaries(
    {},
    optional={
        "hook": st.sampled_from(["patient-view", "order-sign"]) | _json,
        "hookInstance": st.text(max_size=40) | _json,
        "context": st.fixed_dictionaries(
            {},
            optional={
                "userId": st.text(max_size=20) | _json,
                "patientId": st.text(max_size=20) | _json,
            },
        )
        | _json,
        "prefetch": st.dictionaries(
            st.sampled_from(["patient", "observation", "x"]), _json, max_size=3
        )
        | _json,
        "fhirServer": st.text(max_size=20) | _json,
        "fhirAuthorization": _json,
    },
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=_hookish | _json)
def test_any_signed_body_gets_a_named_answer_never_a_server_error(service, body):
    answer = _call(service, body)
    assert answer.status_code in (200, 400, 412), answer.text
    assert "error" in answer.json() or "cards" in answer.json()
