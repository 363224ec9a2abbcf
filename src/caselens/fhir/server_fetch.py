"""A patient's record fetched from a FHIR R4 server (``fhirpy``), read as an uploaded one is.

:func:`fetch_patient_record` reads the Patient and searches, per resource type a schema's
mappings read, that patient's resources carrying the mappings' codes (all dates: a value older
than the window must still be seen to be named stale). Every answer is bounded before it is
parsed (bytes, nesting depth; at most ``MAX_BUNDLE_ENTRIES`` resources over all pages, pages
only on the same server), and the resources are put into one collection Bundle read by
:func:`~caselens.fhir.record.read_fhir_bundle`, so a fetched record meets exactly the limits and
checks of an uploaded one.

Access is a bearer token (:class:`BearerToken`) or SMART Backend Services
(:class:`BackendServices`: a client-credentials grant whose client assertion is a JWT signed
with the client's RS384 or ES384 private key). Tokens never appear in a message or a repr.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from caselens.errors import CaseLensError, FhirRecordError, FhirServerError
from caselens.fhir._quoting import clip
from caselens.fhir.matching import MEDICATION_TYPES
from caselens.fhir.record import (
    MAX_BUNDLE_ENTRIES,
    MAX_FHIR_BUNDLE_BYTES,
    MAX_FHIR_JSON_DEPTH,
    READ_RESOURCE_TYPES,
    FhirRecord,
    read_fhir_bundle,
    reference_key,
)
from caselens.model.bounded import json_nesting_depth
from caselens.model.features import FeatureSchema
from caselens.model.fhir_mapping import FhirMapping

#: Seconds to connect and to wait for each answer: a slow server fails the fetch, not the app.
FETCH_TIMEOUT_S = 10.0
#: Seconds one whole fetch may take (every page of every search): a server that answers each
#: request just within FETCH_TIMEOUT_S still cannot hold a case open for long.
FETCH_TOTAL_S = 60.0
#: Resources asked for per page (servers cap it; paging continues to MAX_BUNDLE_ENTRIES).
PAGE_SIZE = 200
#: Medication ids asked for in one search (`_id=a,b,…`), keeping each URL short.
MEDICATIONS_PER_SEARCH = 50
#: Largest token-endpoint answer read (a token and its fields are a few kB).
MAX_TOKEN_ANSWER_BYTES = 64 * 1024
#: Largest private-key file read (a PEM key is under 4 kB).
MAX_KEY_FILE_BYTES = 64 * 1024
#: Seconds a client assertion is valid (SMART: at most five minutes).
ASSERTION_LIFETIME_S = 300
#: The search parameter that names a resource's patient, and the one for its codes.
CODE_SEARCH = {
    "Observation": "code",
    "Condition": "code",
    "MedicationRequest": "code",
    "MedicationStatement": "code",
    "Procedure": "code",
}
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
#: A FHIR resource id (R4 'id' datatype); anything else never reaches a URL.
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}", re.ASCII)


@dataclass(frozen=True)
class BearerToken:
    """A token the site configured (in ``CASELENS_FHIR_TOKEN_FILE``) or the EHR handed over."""

    token: str = field(repr=False)


@dataclass(frozen=True)
class BackendServices:
    """SMART Backend Services: the client id, the token endpoint and the signing key."""

    client_id: str
    token_url: str
    private_key_file: Path
    key_id: str
    scope: str = " ".join(f"system/{kind}.read" for kind in READ_RESOURCE_TYPES)


FhirAuth = BearerToken | BackendServices


def access_from_settings(settings: Any) -> tuple[str, FhirAuth | None] | None:
    """The configured FHIR server and how to sign in to it, or None when none is configured.

    Raises
    ------
    FhirServerError
        When Backend Services is half configured (naming the variables missing).
    """
    url = getattr(settings, "fhir_url", None)
    if not url:
        return None
    backend = {
        "CASELENS_FHIR_CLIENT_ID": getattr(settings, "fhir_client_id", None),
        "CASELENS_FHIR_TOKEN_URL": getattr(settings, "fhir_token_url", None),
        "CASELENS_FHIR_PRIVATE_KEY_FILE": getattr(settings, "fhir_private_key_file", None),
        "CASELENS_FHIR_KEY_ID": getattr(settings, "fhir_key_id", None),
    }
    if any(backend.values()):
        missing = [name for name, value in backend.items() if not value]
        if missing:
            raise FhirServerError(
                f"SMART Backend Services needs {', '.join(missing)} as well (or none of them, "
                "with CASELENS_FHIR_TOKEN_FILE)."
            )
        return url, BackendServices(
            client_id=str(backend["CASELENS_FHIR_CLIENT_ID"]),
            token_url=str(backend["CASELENS_FHIR_TOKEN_URL"]),
            private_key_file=Path(backend["CASELENS_FHIR_PRIVATE_KEY_FILE"]),  # type: ignore[arg-type]
            key_id=str(backend["CASELENS_FHIR_KEY_ID"]),
        )
    token_file = getattr(settings, "fhir_token_file", None)
    if token_file is None:
        return url, None
    # One reader for the token file, the one results are sent with (same checks and words).
    from caselens.fhir.risk_send import FhirServer

    try:
        token = FhirServer(url, Path(token_file)).token()
    except CaseLensError as exc:
        raise FhirServerError(str(exc)) from exc
    return url, (BearerToken(token) if token else None)


def _read_capped(response: Any, limit: int, what: str) -> bytes:
    """A streamed answer's body, refused past ``limit`` bytes (never read whole first)."""
    body = response.raw.read(limit + 1, decode_content=True)
    if len(body) > limit:
        raise FhirServerError(f"{what}: the answer is over {limit:,} bytes; refused.")
    return body


def _bounding_hook(response: Any, *args: Any, **kwargs: Any) -> Any:
    """A requests hook: the answer is read here under the size and depth limits, so fhirpy
    parses only a bounded body."""
    body = _read_capped(response, MAX_FHIR_BUNDLE_BYTES, "The FHIR server")
    depth = json_nesting_depth(body)
    if depth > MAX_FHIR_JSON_DEPTH:
        raise FhirServerError(
            f"The FHIR server: the answer is nested {depth:,} levels deep; the limit is "
            f"{MAX_FHIR_JSON_DEPTH}."
        )
    response._content = body
    response._content_consumed = True
    return response


def _signing_key(auth: BackendServices) -> tuple[Any, str]:
    """The private key and its JWT algorithm (RS384 for RSA, ES384 for EC P-384)."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        with auth.private_key_file.open("rb") as handle:
            pem = handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise FhirServerError(
            f"The private key file {auth.private_key_file} cannot be read ({exc.strerror})."
        ) from exc
    if len(pem) > MAX_KEY_FILE_BYTES:
        raise FhirServerError(f"The private key file {auth.private_key_file} is too large.")
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise FhirServerError(
            f"The private key file {auth.private_key_file} is not an unencrypted PEM key."
        ) from exc
    if isinstance(key, rsa.RSAPrivateKey):
        return key, "RS384"
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1":
        return key, "ES384"
    raise FhirServerError(
        f"The private key in {auth.private_key_file} is neither RSA nor EC P-384 (SMART Backend "
        "Services signs with RS384 or ES384)."
    )


def backend_services_token(auth: BackendServices, *, timeout_s: float = FETCH_TIMEOUT_S) -> str:
    """An access token from the token endpoint (client-credentials grant, JWT assertion).

    Raises
    ------
    FhirServerError
        The key cannot be read, the endpoint cannot be reached or refuses, or its answer has
        no bearer access token.
    """
    import jwt
    import requests

    key, algorithm = _signing_key(auth)
    now = int(time.time())
    assertion = jwt.encode(
        {
            "iss": auth.client_id,
            "sub": auth.client_id,
            "aud": auth.token_url,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_S,
            "jti": secrets.token_hex(16),
        },
        key,
        algorithm=algorithm,
        headers={"kid": auth.key_id, "typ": "JWT"},
    )
    form = {
        "grant_type": "client_credentials",
        "scope": auth.scope,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    what = f"The token endpoint {clip(auth.token_url)}"
    try:
        with requests.post(auth.token_url, data=form, timeout=timeout_s, stream=True) as answer:
            body = _read_capped(answer, MAX_TOKEN_ANSWER_BYTES, what)
            status = answer.status_code
    except requests.RequestException as exc:
        raise FhirServerError(f"{what} cannot be reached ({type(exc).__name__}).") from exc
    if status != 200:
        raise FhirServerError(f"{what} refused the client (HTTP {status}).")
    try:
        granted = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise FhirServerError(f"{what} answered with something that is not JSON.") from exc
    token = granted.get("access_token") if isinstance(granted, dict) else None
    kind = granted.get("token_type", "") if isinstance(granted, dict) else ""
    if not isinstance(token, str) or not token or str(kind).lower() != "bearer":
        raise FhirServerError(f"{what} answered without a bearer access token.")
    return token


def _searches(schema: FeatureSchema) -> list[tuple[str, dict[str, str]]]:
    """(resource type, search parameters beyond the patient) for the schema's mappings.

    Codes of one type are asked for in one search ('system|code,…' is OR); a type with a
    mapping whose codes sit elsewhere (``code_path``) is fetched whole for the patient, and so
    are medication orders and statements (the Medications they name are read after)."""
    by_type: dict[str, list[FhirMapping]] = {}
    for feature in schema:
        mapping = feature.fhir
        if mapping is None or mapping.entered_by_hand or mapping.resource_type in (None, "Patient"):
            continue
        by_type.setdefault(mapping.resource_type, []).append(mapping)  # type: ignore[arg-type]
    searches: list[tuple[str, dict[str, str]]] = []
    for kind, mappings in by_type.items():
        if any(m.code_path is not None for m in mappings):
            searches.append((kind, {}))
            continue
        if kind in MEDICATION_TYPES:
            # The `code` search matches only a drug given as a code; one named by reference is
            # found by fetching the patient's orders, then the Medications they name.
            searches.append((kind, {}))
            continue
        codes = list(dict.fromkeys((c.system, c.code) for m in mappings for c in m.codes))
        if kind == "Encounter":
            classes = [code for system, code in codes if system == ACT_CODE]
            types = [f"{system}|{code}" for system, code in codes if system != ACT_CODE]
            if classes:
                searches.append((kind, {"class": ",".join(classes)}))
            if types:
                searches.append((kind, {"type": ",".join(types)}))
        else:
            searches.append((kind, {CODE_SEARCH[kind]: ",".join(f"{s}|{c}" for s, c in codes)}))
    return searches


def _client(base_url: str, token: str | None, timeout_s: float) -> Any:
    from fhirpy import SyncFHIRClient

    return SyncFHIRClient(
        base_url,
        authorization=f"Bearer {token}" if token else None,
        extra_headers={"Accept": "application/fhir+json"},
        requests_config={
            "timeout": timeout_s,
            "stream": True,
            "hooks": {"response": _bounding_hook},
        },
    )


def _server_call(what: str, action: Any) -> Any:
    """Run one request, turning every failure into a FhirServerError naming the request."""
    import requests
    from fhirpy.base.exceptions import (
        AuthorizationError,
        OperationOutcome,
        ResourceNotFound,
    )

    try:
        return action()
    except FhirRecordError:
        raise
    except AuthorizationError as exc:
        raise FhirServerError(f"{what}: the server refused the credentials (HTTP 401).") from exc
    except ResourceNotFound as exc:
        raise FhirServerError(f"{what}: not found on the server.") from exc
    except OperationOutcome as exc:
        raise FhirServerError(f"{what}: the server answered with an error.") from exc
    except requests.RequestException as exc:
        raise FhirServerError(
            f"{what}: the server cannot be reached ({type(exc).__name__})."
        ) from exc
    # fhirpy raises plain exceptions for other statuses and malformed answers.
    except Exception as exc:
        raise FhirServerError(f"{what}: the answer cannot be read ({type(exc).__name__}).") from exc


def fetch_patient_record(
    base_url: str,
    patient_id: str,
    schema: FeatureSchema,
    *,
    auth: FhirAuth | None = None,
    timeout_s: float = FETCH_TIMEOUT_S,
) -> FhirRecord:
    """The patient's record from a FHIR server: the Patient and the resources the schema's
    mappings read, as one record read by :func:`read_fhir_bundle`.

    Parameters
    ----------
    base_url : str
        The server's FHIR base, e.g. ``https://ehr.example.org/fhir/r4``.
    patient_id : str
        The Patient's id on that server.
    schema : FeatureSchema
        Its mappings say which resource types and codes to search for.
    auth : BearerToken or BackendServices, optional
    timeout_s : float

    Raises
    ------
    FhirServerError
        Naming the request that failed and why (unreachable, credentials refused, no such
        patient, an answer over the limits, more than ``MAX_BUNDLE_ENTRIES`` resources).
    FhirRecordError
        When the fetched record itself is refused as an upload would be.
    """
    if not isinstance(patient_id, str) or not FHIR_ID.fullmatch(patient_id):
        raise FhirServerError(
            f"'{clip(patient_id)}' is not a FHIR id (1 to 64 of A-Z a-z 0-9 - .)."
        )
    token = None
    if isinstance(auth, BearerToken):
        token = auth.token
    elif isinstance(auth, BackendServices):
        token = backend_services_token(auth, timeout_s=timeout_s)
    client = _client(base_url, token, timeout_s)
    patient = _server_call(
        f"Reading Patient '{clip(patient_id)}'",
        lambda: client.reference("Patient", patient_id).to_resource().serialize(),
    )
    resources: dict[tuple[str, str], dict[str, Any]] = {}
    deadline = time.monotonic() + FETCH_TOTAL_S
    for kind, params in _searches(schema):
        what = f"Searching {kind} of Patient '{clip(patient_id)}'"
        search = client.resources(kind).search(patient=patient_id, **params).limit(PAGE_SIZE)
        found = _server_call(
            what,
            lambda search=search, what=what: _collect(search, len(resources), what, deadline),
        )
        for resource in found:
            key = (str(resource.get("resourceType")), str(resource.get("id")))
            resources.setdefault(key, resource)
    named = _named_medications(resources.values())
    for start in range(0, len(named), MEDICATIONS_PER_SEARCH):
        ids = ",".join(named[start : start + MEDICATIONS_PER_SEARCH])
        what = f"Reading the Medications of Patient '{clip(patient_id)}'"
        search = client.resources("Medication").search(_id=ids).limit(PAGE_SIZE)
        found = _server_call(
            what,
            lambda search=search, what=what: _collect(search, len(resources), what, deadline),
        )
        for resource in found:
            resources.setdefault(("Medication", str(resource.get("id"))), resource)
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": patient}, *({"resource": r} for r in resources.values())],
    }
    return read_fhir_bundle(json.dumps(bundle).encode("utf-8"))


def _named_medications(resources: Any) -> list[str]:
    """Ids of the Medications the orders and statements name by reference on this server
    ('Medication/<id>'; a contained one needs no fetch), each once."""
    ids: dict[str, None] = {}
    for resource in resources:
        if resource.get("resourceType") not in MEDICATION_TYPES:
            continue
        reference = resource.get("medicationReference")
        target = reference.get("reference") if isinstance(reference, dict) else None
        if isinstance(target, str) and not target.startswith("#"):
            kind, _, rid = reference_key(target).partition("/")
            if kind == "Medication" and FHIR_ID.fullmatch(rid):
                ids[rid] = None
    return list(ids)


def _collect(search: Any, already: int, what: str, deadline: float) -> list[dict[str, Any]]:
    """Every resource of a search, page by page, stopping past the entry limit or the fetch's
    time."""
    found = []
    for resource in search:
        if time.monotonic() > deadline:
            raise FhirServerError(f"{what}: the server took over {FETCH_TOTAL_S:g} s in all.")
        found.append(resource.serialize())
        if already + len(found) > MAX_BUNDLE_ENTRIES:
            raise FhirServerError(
                f"{what}: the record has more than {MAX_BUNDLE_ENTRIES:,} matching resources."
            )
    return found
