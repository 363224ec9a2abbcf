"""SMART App Launch 2.x (EHR launch) for CaseLens: the engine (the door: workflow.smart_sign_in).

The EHR opens CaseLens with ``launch`` and ``iss``; :func:`begin_launch` answers with the EHR's
authorize URL (authorization code with PKCE S256, narrow read scopes) and a
:class:`PendingLaunch` the caller keeps on the server side (its verifier is never in a URL).
When the EHR redirects back with ``code`` and ``state``, :func:`complete_launch` checks the
state, exchanges the code with the verifier, verifies the ``id_token`` against the issuer's
key file (never a URL the token names), maps its ``fhirUser`` to a CaseLens user id and
refuses any granted scope wider than asked. Every refusal is a :class:`SmartLaunchError`
saying which check failed, in words naming no patient.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from caselens.errors import CaseLensError
from caselens.fhir.key_sets import KeySetError, read_key_set

#: The scopes CaseLens asks for: the launch context, the clinician's identity, and read/search
#: of only the resources its inputs come from (never write, never ``*``).
DEFAULT_SCOPES = (
    "launch",
    "openid",
    "fhirUser",
    "patient/Patient.rs",
    "patient/Observation.rs",
    "patient/Condition.rs",
    "patient/Encounter.rs",
    "patient/MedicationRequest.rs",
)
#: Scopes an EHR may grant without being asked: it echoes the launch context it resolved.
ECHOED_CONTEXT_SCOPES = frozenset({"launch/patient"})
#: id_token algorithms accepted (asymmetric only: never ``none`` nor a shared-secret HS*).
ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "ES384")
#: Which JWK key type each accepted algorithm needs.
KEY_TYPE_OF = {"RS256": "RSA", "RS384": "RSA", "ES384": "EC"}
#: Clock difference allowed between the EHR and CaseLens when checking ``exp``/``iat``.
CLOCK_SKEW_S = 30
#: A pending launch older than this is refused (a clinician finishes sign-in within minutes).
MAX_PENDING_S = 600
#: PKCE verifier length: RFC 7636 allows 43-128 characters; 64 random bytes give 86.
VERIFIER_BYTES = 64
#: Largest token-endpoint answer read (a token response with an id_token is a few kB).
MAX_TOKEN_RESPONSE_BYTES = 65_536
#: Token endpoint connect/read timeout, seconds.
TOKEN_TIMEOUT_S = 10.0
#: Longest token, scope string or id accepted from the token response.
MAX_FIELD_CHARS = 16_384
#: A FHIR resource id (FHIR R4 ``id`` datatype).
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
#: A resource scope, v2 (``patient/Observation.rs``) or v1 (``patient/Observation.read``).
_RESOURCE_SCOPE = re.compile(r"(patient|user|system)/([A-Za-z*]+)\.([a-z*]+)(\?.*)?")
#: Hosts plain http may name (this machine: tests and a local EHR sandbox).
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
#: SMART v1 permission words as v2 letters (``write`` and ``*`` are never accepted).
_V1_PERMISSIONS = {"read": "rs"}

#: ``(url, form) -> (HTTP status, body bytes)``: posts a form to the token endpoint.
HttpPost = Callable[[str, Mapping[str, str]], tuple[int, bytes]]


class SmartLaunchError(CaseLensError):
    """A SMART launch was refused; the message says which check failed (no patient data).

    ``fhir_user`` is the EHR's user when the refusal is that it has no CaseLens account (so
    the refusal can be recorded under it)."""

    def __init__(self, message: str, *, fhir_user: str | None = None) -> None:
        super().__init__(message)
        self.fhir_user = fhir_user


@dataclass(frozen=True)
class SmartLaunchConfig:
    """CaseLens registered as a SMART app with one EHR.

    ``issuer`` is the EHR's FHIR base URL (the launch's ``iss`` and the ``aud`` asked for);
    ``id_token_issuer`` is the OpenID issuer of its id_tokens (the FHIR base when None);
    ``jwks_file`` holds the public keys its id_tokens are signed with; ``fhir_user_roles``
    maps a ``fhirUser`` (``Practitioner/123``) to a CaseLens user id.
    """

    client_id: str
    redirect_uri: str
    authorize_endpoint: str
    token_endpoint: str
    issuer: str
    jwks_file: Path
    fhir_user_roles: Mapping[str, str]
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    id_token_issuer: str | None = None

    def __post_init__(self) -> None:
        for name in ("client_id", "redirect_uri", "authorize_endpoint", "token_endpoint"):
            if not str(getattr(self, name)).strip():
                raise SmartLaunchError(f"SMART launch settings: '{name}' is empty.")
        for name in ("authorize_endpoint", "token_endpoint", "issuer", "redirect_uri"):
            if not _is_http_url(getattr(self, name)):
                raise SmartLaunchError(
                    f"SMART launch settings: '{name}' must be an https URL "
                    "(plain http only to this machine)."
                )
        wide = [s for s in self.scopes if _scope_problem(s, None)]
        if wide:
            raise SmartLaunchError(
                f"SMART launch settings: scopes {', '.join(wide)} are not narrow read scopes."
            )


@dataclass(frozen=True)
class PendingLaunch:
    """What the caller keeps between the redirect out and back (server side, never a URL)."""

    state: str = field(repr=False)
    code_verifier: str = field(repr=False)
    iss: str
    launch: str | None
    started_at: dt.datetime


@dataclass(frozen=True)
class LaunchResult:
    """A completed launch: the patient in context, who the clinician is, what was granted."""

    patient_id: str
    user_id: str
    fhir_user: str
    granted_scopes: tuple[str, ...]
    access_token: str = field(repr=False)


def _is_http_url(value: object) -> bool:
    """An https URL, or plain http to this machine only (a code or token never crosses a
    network in the clear)."""
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and parts.hostname in _LOOPBACK


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def code_challenge(verifier: str) -> str:
    """The PKCE S256 challenge of ``verifier`` (RFC 7636 section 4.2)."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def begin_launch(
    config: SmartLaunchConfig,
    *,
    launch: str | None,
    iss: str,
    now: dt.datetime | None = None,
) -> tuple[str, PendingLaunch]:
    """The EHR's authorize URL for this launch and the pending launch the caller keeps.

    Raises
    ------
    SmartLaunchError
        When ``iss`` is not the configured EHR (CaseLens never follows an issuer the
        launching page chose) or ``launch`` is not a short string.
    """
    if not isinstance(iss, str) or iss.rstrip("/") != config.issuer.rstrip("/"):
        raise SmartLaunchError(
            "the launch's 'iss' is not the configured EHR; CaseLens only launches from "
            f"{config.issuer}."
        )
    if launch is not None and (not isinstance(launch, str) or not 0 < len(launch) <= 1_000):
        raise SmartLaunchError("the launch's 'launch' parameter is empty or too long.")
    verifier = _b64url(secrets.token_bytes(VERIFIER_BYTES))
    state = secrets.token_urlsafe(32)
    params = {
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": config.redirect_uri,
        "scope": " ".join(config.scopes),
        "state": state,
        "aud": config.issuer,
        "code_challenge": code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    if launch is not None:
        params["launch"] = launch
    separator = "&" if "?" in config.authorize_endpoint else "?"
    url = f"{config.authorize_endpoint}{separator}{urlencode(params)}"
    pending = PendingLaunch(state, verifier, config.issuer, launch, now or _utcnow())
    return url, pending


def post_form(url: str, form: Mapping[str, str]) -> tuple[int, bytes]:
    """POST ``form`` to ``url`` with httpx: a timeout, no redirects, the answer size-bounded."""
    import httpx

    try:
        with (
            httpx.Client(timeout=TOKEN_TIMEOUT_S, follow_redirects=False) as client,
            client.stream(
                "POST", url, data=dict(form), headers={"Accept": "application/json"}
            ) as answer,
        ):
            body = b""
            for chunk in answer.iter_bytes():
                body += chunk
                if len(body) > MAX_TOKEN_RESPONSE_BYTES:
                    raise SmartLaunchError(
                        f"the token endpoint's answer is larger than "
                        f"{MAX_TOKEN_RESPONSE_BYTES:,} bytes."
                    )
            return answer.status_code, body
    except httpx.TimeoutException:
        raise SmartLaunchError(
            f"the token endpoint did not answer within {TOKEN_TIMEOUT_S:g} s."
        ) from None
    except httpx.HTTPError as exc:
        raise SmartLaunchError(
            f"the token endpoint cannot be reached ({type(exc).__name__})."
        ) from None


def _permissions(word: str) -> str | None:
    """A scope's permissions as v2 letters; None when they include anything beyond read."""
    letters = _V1_PERMISSIONS.get(word, word)
    if not letters or any(ch not in "rs" for ch in letters):
        return None
    return letters


def _scope_problem(scope: str, asked: tuple[str, ...] | None) -> bool:
    """True when ``scope`` is wider than the read scopes asked (or than read at all)."""
    if scope in ECHOED_CONTEXT_SCOPES:
        return False
    match = _RESOURCE_SCOPE.fullmatch(scope)
    if match is None:
        if "/" in scope or "*" in scope:
            return True
        return asked is not None and scope not in asked
    context, kind, perms, _query = match.groups()
    if kind == "*" or _permissions(perms) is None:
        return True
    if asked is None:
        return False
    for wanted in asked:
        known = _RESOURCE_SCOPE.fullmatch(wanted)
        if known and known.group(1) == context and known.group(2) == kind:
            return not set(_permissions(perms) or "") <= set(_permissions(known.group(3)) or "")
    return True


def _token_response(status: int, body: bytes) -> dict[str, object]:
    if len(body) > MAX_TOKEN_RESPONSE_BYTES:
        raise SmartLaunchError(
            f"the token endpoint's answer is larger than {MAX_TOKEN_RESPONSE_BYTES:,} bytes."
        )
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        data = None
    if status != 200:
        error = data.get("error") if isinstance(data, dict) else None
        said = f" ({str(error)[:80]!r})" if isinstance(error, str) else ""
        raise SmartLaunchError(f"the token endpoint refused the code: HTTP {status}{said}.")
    if not isinstance(data, dict):
        raise SmartLaunchError("the token endpoint's answer is not a JSON object.")
    return data


def _text(data: Mapping[str, object], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_FIELD_CHARS:
        raise SmartLaunchError(f"the token response has no usable '{name}'.")
    return value


def _load_keys(path: Path) -> dict[str, object]:
    try:
        return read_key_set(path)
    except KeySetError as exc:
        raise SmartLaunchError(str(exc)) from None


def verify_id_token(config: SmartLaunchConfig, id_token: str) -> dict[str, object]:
    """The claims of the EHR's ``id_token`` once its signature, issuer, audience and times hold.

    Keys come only from ``config.jwks_file`` (a ``jku``/``jwk`` in the header is ignored).
    """
    import jwt
    from jwt.exceptions import InvalidTokenError

    try:
        header = jwt.get_unverified_header(id_token)
    except InvalidTokenError as exc:
        raise SmartLaunchError(f"the id_token is not a JWT ({exc}).") from None
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in ID_TOKEN_ALGORITHMS:
        allowed = ", ".join(ID_TOKEN_ALGORITHMS)
        raise SmartLaunchError(
            f"the id_token's algorithm {str(alg)[:20]!r} is not allowed (expected {allowed})."
        )
    keys = _load_keys(config.jwks_file)
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise SmartLaunchError("the EHR's key file holds no key with the id_token's 'kid'.")
    if key.key_type != KEY_TYPE_OF[alg]:  # type: ignore[attr-defined]
        raise SmartLaunchError(f"the key named by 'kid' is not a {KEY_TYPE_OF[alg]} key for {alg}.")
    try:
        return jwt.decode(
            id_token,
            key.key,  # type: ignore[attr-defined]
            algorithms=[alg],
            audience=config.client_id,
            issuer=config.id_token_issuer or config.issuer,
            leeway=CLOCK_SKEW_S,
            options={"require": ["iss", "sub", "aud", "exp", "iat"]},
        )
    except InvalidTokenError as exc:
        raise SmartLaunchError(
            f"the id_token does not verify ({type(exc).__name__}: {exc})."
        ) from None


def _user_id(config: SmartLaunchConfig, claims: Mapping[str, object]) -> tuple[str, str]:
    fhir_user = claims.get("fhirUser")
    if not isinstance(fhir_user, str) or not fhir_user.strip():
        raise SmartLaunchError("the id_token names no clinician ('fhirUser').")
    # An absolute reference on the EHR's own FHIR server reads as the relative one.
    relative = fhir_user.removeprefix(config.issuer.rstrip("/") + "/")
    user_id = config.fhir_user_roles.get(relative)
    if user_id is None:
        raise SmartLaunchError(
            f"the EHR's user {relative[:100]!r} has no CaseLens account; an administrator "
            "maps it before this clinician can open CaseLens from the EHR.",
            fhir_user=relative[:100],
        )
    return relative, user_id


def complete_launch(
    config: SmartLaunchConfig,
    pending: PendingLaunch,
    *,
    code: str,
    state: str,
    http_post: HttpPost = post_form,
    now: dt.datetime | None = None,
) -> LaunchResult:
    """The launch's patient, clinician and grant once every check holds.

    Raises
    ------
    SmartLaunchError
        Saying which check failed: the state, the pending launch's age, the token endpoint's
        answer, the id_token, the clinician's mapping, or a scope wider than asked.
    """
    if not isinstance(state, str) or not hmac.compare_digest(
        state.encode("utf-8", "replace"), pending.state.encode("ascii")
    ):
        raise SmartLaunchError("the 'state' returned does not match this launch's.")
    if pending.iss.rstrip("/") != config.issuer.rstrip("/"):
        raise SmartLaunchError("this pending launch was started with another EHR.")
    age = ((now or _utcnow()) - pending.started_at).total_seconds()
    if age > MAX_PENDING_S:
        raise SmartLaunchError(
            f"the launch started {age:.0f} s ago; at most {MAX_PENDING_S} s. Launch again."
        )
    if not isinstance(code, str) or not 0 < len(code) <= MAX_FIELD_CHARS:
        raise SmartLaunchError("the authorization 'code' is empty or too long.")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": config.redirect_uri,
        "client_id": config.client_id,
        "code_verifier": pending.code_verifier,
    }
    data = _token_response(*http_post(config.token_endpoint, form))
    access_token = _text(data, "access_token")
    if _text(data, "token_type").lower() != "bearer":
        raise SmartLaunchError("the token response's 'token_type' is not Bearer.")
    granted = tuple(_text(data, "scope").split())
    wider = [scope for scope in granted if _scope_problem(scope, config.scopes)]
    if wider:
        raise SmartLaunchError(
            f"the EHR granted scopes wider than asked ({', '.join(s[:60] for s in wider[:5])}); "
            "CaseLens asks for and accepts read access only."
        )
    patient_id = _text(data, "patient")
    if not _FHIR_ID.fullmatch(patient_id):
        raise SmartLaunchError("the token response's 'patient' is not a FHIR id.")
    claims = verify_id_token(config, _text(data, "id_token"))
    fhir_user, user_id = _user_id(config, claims)
    return LaunchResult(patient_id, user_id, fhir_user, granted, access_token)
