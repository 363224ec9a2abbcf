"""A simulated EHR for the CDS Hooks service: its signing keys and JWTs, a model whose inputs
are mapped to FHIR, a patient's record as prefetch, and the service under a real uvicorn
server on a free port. Used by ``caselens bench cds`` and by tests/cds.

The mapped model is the heart-disease sample with a FHIR mapping written here (age and sex
from the Patient, measurements as LOINC-coded Observations in UCUM units, findings as coded
Observations with text values): benchmark and test data, not a clinical mapping.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from caselens.bench.app import free_port
from caselens.model.bundle_signing import SIGNATURE_FILE
from caselens.settings import SAMPLE_MODELS_DIR

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
#: A code system for the findings that have no single LOINC code (test data only).
FINDINGS = "urn:caselens:bench:findings"
HEART = "heart-disease"

#: Each heart-disease input's code and how its value is written (None: from the Patient).
#: (code system, code, UCUM unit or None for a text value or a bare integer)
HEART_CODES: dict[str, tuple[str, str, str | None]] = {
    "chest_pain": (FINDINGS, "chest-pain-type", None),
    "resting_bp": (LOINC, "8480-6", "mm[Hg]"),
    "cholesterol": (LOINC, "2093-3", "mg/dL"),
    "fasting_glucose_high": (FINDINGS, "fasting-glucose-over-120", None),
    "resting_ecg": (FINDINGS, "resting-ecg", None),
    "max_heart_rate": (LOINC, "8867-4", "/min"),
    "exercise_angina": (FINDINGS, "exercise-angina", None),
    "st_depression": (FINDINGS, "st-depression", "mm"),
    "st_slope": (FINDINGS, "st-slope", None),
    "major_vessels": (FINDINGS, "vessels-fluoroscopy", None),
    "thallium_test": (FINDINGS, "thallium-stress-test", None),
}
#: How far back each measurement is looked for (days before the case date).
WINDOW_DAYS = 365


def _mapping(name: str) -> dict[str, Any]:
    if name == "age":
        return {"resource_type": "Patient", "value_path": "birthDate", "derive": "age_years"}
    if name == "sex":
        return {
            "resource_type": "Patient",
            "value_path": "gender",
            "value_map": {"female": "Female", "male": "Male"},
        }
    system, code, unit = HEART_CODES[name]
    mapping: dict[str, Any] = {
        "resource_type": "Observation",
        "codes": [{"system": system, "code": code}],
        "window_days": WINDOW_DAYS,
    }
    if unit is not None:
        mapping |= {"value_path": "valueQuantity", "units": [unit], "unit": unit}
    elif name == "major_vessels":
        mapping["value_path"] = "valueInteger"
    else:
        mapping["value_path"] = "valueString"
    return mapping


def mapped_heart_disease(models_dir: Path) -> Path:
    """Copy the heart-disease sample into ``models_dir`` with every input mapped to FHIR.

    The copy is a local change of a signed bundle, so its publisher's signature is removed
    (it would no longer hold): load it with signed bundles not required."""
    target = models_dir / HEART
    shutil.copytree(SAMPLE_MODELS_DIR / HEART, target)
    (target / SIGNATURE_FILE).unlink(missing_ok=True)
    features_file = target / "features.json"
    features = json.loads(features_file.read_text(encoding="utf-8"))
    for spec in features["features"]:
        spec["fhir"] = _mapping(spec["name"])
    features_file.write_text(json.dumps(features, indent=1), encoding="utf-8")
    return target


def _observation(patient_id: str, name: str, value: Any, when: dt.date) -> dict[str, Any]:
    system, code, unit = HEART_CODES[name]
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"{name.replace('_', '-')}-{patient_id}"[:64],
        "status": "final",
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": when.isoformat(),
    }
    if unit is not None:
        resource["valueQuantity"] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
    elif name == "major_vessels":
        resource["valueInteger"] = int(value)
    else:
        resource["valueString"] = str(value)
    return resource


def heart_prefetch(
    patient_id: str,
    inputs: Mapping[str, Any],
    *,
    case_date: dt.date,
    leave_out: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The prefetch an EHR sends for a heart-disease patient with these input values: the
    Patient, and a searchset Bundle of Observations (``leave_out``: inputs the record lacks)."""
    age = int(inputs["age"])
    birth = dt.date(case_date.year - age - 1, case_date.month, 1) + dt.timedelta(days=40)
    if (case_date - birth).days < age * 365.25:
        birth = dt.date(case_date.year - age - 1, 1, 1)
    patient = {
        "resourceType": "Patient",
        "id": patient_id,
        "gender": str(inputs["sex"]).lower(),
        "birthDate": birth.isoformat(),
    }
    when = case_date - dt.timedelta(days=30)
    observations = [
        _observation(patient_id, name, inputs[name], when)
        for name in HEART_CODES
        if name not in leave_out and inputs.get(name) is not None  # None: not in the record
    ]
    search = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(observations),
        "entry": [{"fullUrl": f"Observation/{o['id']}", "resource": o} for o in observations],
    }
    return {"patient": patient, "observation": search}


@dataclass
class SimulatedEhr:
    """An EHR's issuer, client id and signing key (ES384, or RS384 with ``rsa``)."""

    issuer: str = "https://ehr.example.org"
    client_id: str = "ehr-cds-client"
    rsa: bool = False
    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    #: FHIR servers the operator lets the service read for this EHR.
    fhir_servers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.rsa:
            self.private_key: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.alg = "RS384"
            public = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        else:
            self.private_key = ec.generate_private_key(ec.SECP384R1())
            self.alg = "ES384"
            public = json.loads(ECAlgorithm.to_jwk(self.private_key.public_key()))
        self.jwk = public | {"kid": self.kid, "alg": self.alg, "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        """The public key set the operator configures for this issuer."""
        return {"keys": [self.jwk]}

    def token(
        self,
        audience: str,
        *,
        lifetime_s: int = 60,
        issued_at: float | None = None,
        jti: str | None = None,
        claims: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
        key: Any = None,
        alg: str | None = None,
    ) -> str:
        """A CDS Hooks client JWT for ``audience`` (the endpoint's URL)."""
        now = time.time() if issued_at is None else issued_at
        payload = {
            "iss": self.issuer,
            "sub": self.client_id,
            "aud": audience,
            "iat": int(now),
            "exp": int(now) + lifetime_s,
            "jti": jti or str(uuid.uuid4()),
        } | dict(claims or {})
        # A header given as None is left out (a token without 'kid', for the refusal tests).
        header = {"kid": self.kid, "typ": "JWT"} | dict(headers or {})
        header = {k: v for k, v in header.items() if v is not None}
        return jwt.encode(
            payload, key or self.private_key, algorithm=alg or self.alg, headers=header
        )


def write_issuers(folder: Path, *ehrs: SimulatedEhr) -> Path:
    """The operator's issuers file (and one JWKS file per EHR) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for number, ehr in enumerate(ehrs):
        jwks = folder / f"ehr-{number}-jwks.json"
        jwks.write_text(json.dumps(ehr.jwks()), encoding="utf-8")
        entries.append(
            {"iss": ehr.issuer, "jwks_file": jwks.name, "fhir_servers": list(ehr.fhir_servers)}
        )
    path = folder / "cds-issuers.json"
    path.write_text(json.dumps({"issuers": entries}), encoding="utf-8")
    return path


def hook_request(
    patient_id: str, prefetch: Mapping[str, Any] | None, *, user_id: str = "Practitioner/7"
) -> dict[str, Any]:
    """A ``patient-view`` call's body as CDS Hooks 2.0 shapes it."""
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": user_id, "patientId": patient_id},
    }
    if prefetch is not None:
        body["prefetch"] = dict(prefetch)
    return body


@contextmanager
def cds_server(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve ``app`` under uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"cds-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the CDS service did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


#: Entries per page of the test FHIR server's searches (small, so paging is exercised).
FHIR_PAGE_SIZE = 4


def fhir_test_server(resources: list[dict[str, Any]], *, token: str) -> Any:
    """A small FHIR server (a Starlette app) answering reads and searches from
    ``resources``, for the service's fetch path: ``GET /Patient/<id>`` and
    ``GET /<type>?patient=<id>[&code=system|code,...]`` (a searchset, paged by
    :data:`FHIR_PAGE_SIZE` with ``next`` links), only with ``Authorization: Bearer <token>``.
    ``app.state.requests`` lists the paths asked (with their authorization)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    requests: list[tuple[str, str | None]] = []

    def authorized(request: Request) -> bool:
        given = request.headers.get("authorization")
        requests.append((request.url.path + "?" + request.url.query, given))
        return given == f"Bearer {token}"

    async def read(request: Request) -> JSONResponse:
        if not authorized(request):
            return JSONResponse({"resourceType": "OperationOutcome"}, 401)
        kind, ident = request.path_params["kind"], request.path_params["ident"]
        for resource in resources:
            if resource["resourceType"] == kind and resource.get("id") == ident:
                return JSONResponse(resource)
        return JSONResponse({"resourceType": "OperationOutcome"}, 404)

    async def search(request: Request) -> JSONResponse:
        if not authorized(request):
            return JSONResponse({"resourceType": "OperationOutcome"}, 401)
        kind, query = request.path_params["kind"], request.query_params
        subject = f"Patient/{query.get('patient')}"
        codes = set(filter(None, query.get("code", "").split(",")))
        found = [
            r
            for r in resources
            if r["resourceType"] == kind
            and r.get("subject", {}).get("reference") == subject
            and (
                not codes
                or any(
                    f"{c.get('system')}|{c.get('code')}" in codes
                    for c in r.get("code", {}).get("coding", [])
                )
            )
        ]
        page = int(query.get("_page", "1"))
        chunk = found[(page - 1) * FHIR_PAGE_SIZE : page * FHIR_PAGE_SIZE]
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(found),
            "entry": [{"resource": r} for r in chunk],
        }
        if page * FHIR_PAGE_SIZE < len(found):
            following = dict(query) | {"_page": str(page + 1)}
            link = f"{kind}?" + "&".join(f"{k}={v}" for k, v in following.items())
            bundle["link"] = [{"relation": "next", "url": link}]
        return JSONResponse(bundle)

    app = Starlette(
        routes=[
            Route("/{kind}/{ident}", read, methods=["GET"]),
            Route("/{kind}", search, methods=["GET"]),
        ]
    )
    app.state.requests = requests
    return app
