"""A small SMART authorization server for the launch tests (a real uvicorn on a free port).

``/authorize`` remembers the PKCE challenge and redirects back with a one-time code;
``/token`` refuses a code whose ``code_verifier`` does not hash to that challenge (RFC 7636)
and answers with an RS256-signed ``id_token``. A test changes what the next answer holds
(``claims``, ``scope``, ``signing_key``) to play an EHR that grants too much or forges.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CLIENT_ID = "caselens-test"
KID = "ehr-key-1"


def new_rsa_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA key (the EHR's, or a forger's)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks_of(key: rsa.RSAPrivateKey, kid: str = KID) -> dict[str, Any]:
    """The public JWKS of ``key``."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=kid, alg="RS256", use="sig")
    return {"keys": [jwk]}


class SmartAuthServer:
    """The EHR's authorization side; ``base`` is set by :func:`fhir_server.running`."""

    def __init__(self, key: rsa.RSAPrivateKey, *, patient: str = "pat-h03") -> None:
        self.key = key
        self.base = ""
        self.patient = patient
        self.pending: dict[str, dict[str, str]] = {}
        self.reset()

    def reset(self) -> None:
        """Back to an honest EHR for the next test."""
        self.claims: dict[str, Any] = {}
        self.scope: str | None = None
        self.signing_key: rsa.RSAPrivateKey = self.key

    @property
    def issuer(self) -> str:
        return self.base

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        code = secrets.token_urlsafe(16)
        self.pending[code] = {
            "challenge": q["code_challenge"],
            "redirect_uri": q["redirect_uri"],
            "scope": q["scope"],
            "client_id": q["client_id"],
        }
        back = urlencode({"code": code, "state": q["state"]})
        return RedirectResponse(f"{q['redirect_uri']}?{back}", status_code=302)

    async def token(self, request: Request) -> Response:
        form = await request.form()
        grant = self.pending.pop(str(form.get("code")), None)
        if grant is None or form.get("grant_type") != "authorization_code":
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        verifier = str(form.get("code_verifier", "")).encode("ascii", "replace")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if challenge.decode() != grant["challenge"]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        if (
            form.get("redirect_uri") != grant["redirect_uri"]
            or form.get("client_id") != (grant["client_id"])
        ):
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": "clinician-1",
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "fhirUser": "Practitioner/123",
            **self.claims,
        }
        id_token = jwt.encode(claims, self.signing_key, algorithm="RS256", headers={"kid": KID})
        return JSONResponse(
            {
                "access_token": secrets.token_hex(16),
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": self.scope if self.scope is not None else grant["scope"],
                "patient": self.patient,
                "id_token": id_token,
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/fhir/authorize", self.authorize),
                Route("/fhir/token", self.token, methods=["POST"]),
            ]
        )
