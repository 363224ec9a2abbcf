"""SMART App Launch engine against a real local authorization server (one per module)."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caselens.errors import CaseLensError
from caselens.fhir import (
    DEFAULT_SCOPES,
    LaunchResult,
    PendingLaunch,
    SmartLaunchConfig,
    SmartLaunchError,
    begin_launch,
    complete_launch,
)
from caselens.fhir.smart_launch import (
    MAX_PENDING_S,
    code_challenge,
    post_form,
    verify_id_token,
)
from fhir_server import running
from smart_auth_server import CLIENT_ID, SmartAuthServer, jwks_of, new_rsa_key

REDIRECT = "https://caselens.test/launch"


@pytest.fixture(scope="module")
def server() -> SmartAuthServer:
    auth = SmartAuthServer(new_rsa_key())
    with running(auth):
        yield auth


@pytest.fixture()
def config(server: SmartAuthServer, tmp_path: Path) -> SmartLaunchConfig:
    server.reset()
    jwks = tmp_path / "ehr-jwks.json"
    jwks.write_text(json.dumps(jwks_of(server.key)), encoding="utf-8")
    return SmartLaunchConfig(
        client_id=CLIENT_ID,
        redirect_uri=REDIRECT,
        authorize_endpoint=f"{server.base}/authorize",
        token_endpoint=f"{server.base}/token",
        issuer=server.base,
        jwks_file=jwks,
        fhir_user_roles={"Practitioner/123": "dr.lee"},
    )


def _authorize(url: str) -> dict[str, str]:
    """Follow the authorize URL as the browser would; the EHR's redirect's query."""
    answer = httpx.get(url, follow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _launch(config: SmartLaunchConfig, server: SmartAuthServer, **kwargs) -> LaunchResult:
    url, pending = begin_launch(config, launch="xyz123", iss=server.base)
    back = _authorize(url)
    return complete_launch(config, pending, code=back["code"], state=back["state"], **kwargs)


def test_happy_path_names_patient_clinician_and_read_scopes(config, server) -> None:
    url, pending = begin_launch(config, launch="xyz123", iss=server.base)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["aud"] == server.base and query["launch"] == "xyz123"
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] == code_challenge(pending.code_verifier)
    assert 43 <= len(pending.code_verifier) <= 128
    assert pending.code_verifier not in url and query["state"] == pending.state
    assert query["scope"].split() == list(DEFAULT_SCOPES)
    back = _authorize(url)
    result = complete_launch(config, pending, code=back["code"], state=back["state"])
    assert (result.patient_id, result.user_id, result.fhir_user) == (
        "pat-h03",
        "dr.lee",
        "Practitioner/123",
    )
    assert set(result.granted_scopes) == set(DEFAULT_SCOPES)
    assert result.access_token not in repr(result)
    assert pending.code_verifier not in repr(pending) and pending.state not in repr(pending)


def test_two_launches_have_different_verifiers_and_states(config, server) -> None:
    _, first = begin_launch(config, launch=None, iss=server.base)
    _, second = begin_launch(config, launch=None, iss=server.base)
    assert first.code_verifier != second.code_verifier and first.state != second.state


def test_an_iss_not_configured_is_refused(config) -> None:
    with pytest.raises(SmartLaunchError, match="not the configured EHR"):
        begin_launch(config, launch="xyz", iss="https://evil.example.org/fhir")


def test_wrong_state_is_refused_before_the_code_is_spent(config, server) -> None:
    url, pending = begin_launch(config, launch="xyz", iss=server.base)
    back = _authorize(url)
    with pytest.raises(SmartLaunchError, match="'state'"):
        complete_launch(config, pending, code=back["code"], state=back["state"] + "x")
    # The code was not sent: the right state still completes.
    result = complete_launch(config, pending, code=back["code"], state=back["state"])
    assert result.user_id == "dr.lee"


def test_wrong_verifier_is_refused_by_the_server(config, server) -> None:
    url, pending = begin_launch(config, launch="xyz", iss=server.base)
    back = _authorize(url)
    _, other = begin_launch(config, launch="xyz", iss=server.base)
    forged = PendingLaunch(
        pending.state, other.code_verifier, pending.iss, None, pending.started_at
    )
    with pytest.raises(SmartLaunchError, match=r"HTTP 400.*invalid_grant"):
        complete_launch(config, forged, code=back["code"], state=back["state"])


def test_a_stale_pending_launch_is_refused(config, server) -> None:
    url, pending = begin_launch(config, launch="xyz", iss=server.base)
    back = _authorize(url)
    later = pending.started_at + dt.timedelta(seconds=MAX_PENDING_S + 1)
    with pytest.raises(SmartLaunchError, match="Launch again"):
        complete_launch(config, pending, code=back["code"], state=back["state"], now=later)


def test_forged_id_token_is_refused(config, server) -> None:
    server.signing_key = new_rsa_key()
    with pytest.raises(SmartLaunchError, match=r"id_token does not verify.*Signature"):
        _launch(config, server)


def test_expired_id_token_is_refused(config, server) -> None:
    now = int(time.time())
    server.claims = {"iat": now - 900, "exp": now - 600}
    with pytest.raises(SmartLaunchError, match="ExpiredSignature"):
        _launch(config, server)


def test_id_token_for_another_client_is_refused(config, server) -> None:
    server.claims = {"aud": "another-app"}
    with pytest.raises(SmartLaunchError, match="InvalidAudience"):
        _launch(config, server)


def test_id_token_from_another_issuer_is_refused(config, server) -> None:
    server.claims = {"iss": "https://evil.example.org"}
    with pytest.raises(SmartLaunchError, match="InvalidIssuer"):
        _launch(config, server)


def test_unknown_fhir_user_is_refused_with_words(config, server) -> None:
    server.claims = {"fhirUser": "Practitioner/999"}
    with pytest.raises(SmartLaunchError, match="'Practitioner/999' has no CaseLens account"):
        _launch(config, server)


def test_absolute_fhir_user_on_the_ehr_maps_as_relative(config, server) -> None:
    server.claims = {"fhirUser": f"{server.base}/Practitioner/123"}
    assert _launch(config, server).user_id == "dr.lee"


@pytest.mark.parametrize(
    "granted",
    [
        "launch openid fhirUser patient/Observation.cruds",
        "launch openid fhirUser patient/*.rs",
        "launch openid fhirUser patient/*.*",
        "launch openid fhirUser patient/Observation.write",
        "launch openid fhirUser user/Observation.rs",
        "launch openid fhirUser patient/Observation.rs patient/DocumentReference.rs",
        "launch openid fhirUser patient/Observation.rs offline_access",
    ],
)
def test_a_scope_wider_than_asked_is_refused(config, server, granted) -> None:
    server.scope = granted
    with pytest.raises(SmartLaunchError, match="wider than asked"):
        _launch(config, server)


def test_narrower_and_v1_read_scopes_are_accepted(config, server) -> None:
    server.scope = "launch/patient openid fhirUser patient/Observation.r patient/Patient.read"
    result = _launch(config, server)
    assert "patient/Patient.read" in result.granted_scopes


def test_settings_asking_for_write_are_refused(config) -> None:
    with pytest.raises(SmartLaunchError, match="not narrow read scopes"):
        SmartLaunchConfig(**{**config.__dict__, "scopes": ("launch", "patient/Observation.cruds")})


def test_plain_http_to_another_host_is_refused_in_settings(config) -> None:
    with pytest.raises(SmartLaunchError, match="'token_endpoint' must be an https URL"):
        SmartLaunchConfig(**{**config.__dict__, "token_endpoint": "http://ehr.example.org/token"})


def test_a_pending_launch_from_another_ehr_is_refused(config, server) -> None:
    url, pending = begin_launch(config, launch="xyz", iss=server.base)
    back = _authorize(url)
    other = PendingLaunch(
        pending.state,
        pending.code_verifier,
        "https://other.example.org/fhir",
        None,
        pending.started_at,
    )
    with pytest.raises(SmartLaunchError, match="another EHR"):
        complete_launch(config, other, code=back["code"], state=back["state"])


def test_unreachable_token_endpoint_is_a_clear_refusal() -> None:
    with pytest.raises(SmartLaunchError, match="cannot be reached"):
        post_form("http://127.0.0.1:9/token", {"a": "b"})


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
_TOKEN_KEYS = ["access_token", "token_type", "scope", "patient", "id_token"]
#: Plausible values too, so examples reach the scope, patient and id_token checks.
_PLAUSIBLE = {
    "access_token": st.just("abc"),
    "token_type": st.sampled_from(["Bearer", "bearer", "MAC"]),
    "scope": st.sampled_from([" ".join(DEFAULT_SCOPES), "patient/*.*", "openid", ""]),
    "patient": st.sampled_from(["pat-h03", "../x", "a" * 65]),
    "id_token": st.sampled_from(["a.b.c", "eyJhbGciOiJub25lIn0.e30.", ""]),
}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    status=st.sampled_from([200, 200, 200, 400, 500]),
    body=st.one_of(
        _JSON,
        st.fixed_dictionaries(
            {}, optional={k: _JSON | st.text(max_size=60) | _PLAUSIBLE[k] for k in _TOKEN_KEYS}
        ),
    ),
    raw=st.booleans(),
    junk=st.binary(max_size=40),
)
def test_any_token_response_raises_only_caselens_errors(config, status, body, raw, junk) -> None:
    _, pending = begin_launch(config, launch=None, iss=config.issuer)
    payload = junk if raw else json.dumps(body).encode()
    with contextlib.suppress(CaseLensError):
        complete_launch(
            config,
            pending,
            code="c",
            state=pending.state,
            http_post=lambda url, form: (status, payload),
        )


def test_id_token_algorithm_allow_list(config, tmp_path) -> None:
    """ES384 with the EHR's EC key verifies; another EC key or HS256 (alg confusion) does not."""
    ec_key = ec.generate_private_key(ec.SECP384R1())
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
    ec_jwk.update(kid="ec-1")
    jwks = tmp_path / "ec-jwks.json"
    jwks.write_text(json.dumps({"keys": [ec_jwk]}), encoding="utf-8")
    ec_config = SmartLaunchConfig(**{**config.__dict__, "jwks_file": jwks})
    now = int(time.time())
    claims = {"iss": config.issuer, "sub": "c", "aud": CLIENT_ID, "iat": now, "exp": now + 60}
    signed = jwt.encode(claims, ec_key, algorithm="ES384", headers={"kid": "ec-1"})
    assert verify_id_token(ec_config, signed)["sub"] == "c"
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","kid":"ec-1"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    other_key = ec.generate_private_key(ec.SECP384R1())
    forged = jwt.encode(claims, other_key, algorithm="ES384", headers={"kid": "ec-1"})
    with pytest.raises(SmartLaunchError, match="InvalidSignature"):
        verify_id_token(ec_config, forged)
    with pytest.raises(SmartLaunchError, match="'HS256' is not allowed"):
        verify_id_token(ec_config, f"{header}.{body}.c2ln")
