"""A test EHR for SMART App Launch: the authorization server (:mod:`smart_auth_server`) and the
FHIR server (:mod:`fhir_server`) on one base URL, as an EHR serves them, under one real uvicorn
(:func:`fhir_server.running`). The access token the authorization side issues is the one its
FHIR side accepts. ``deny`` makes the next authorize answer an OAuth error instead of a code.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from fhir_server import FhirTestServer
from smart_auth_server import SmartAuthServer, jwks_of


class SmartEhr:
    """One EHR: ``/fhir/authorize``, ``/fhir/token`` and the FHIR REST reads and searches."""

    def __init__(self, auth: SmartAuthServer, records: list[bytes]) -> None:
        self.auth = auth
        self.fhir = FhirTestServer(records, token="not-the-launch-token")
        self.deny: str | None = None
        self.issued: list[str] = []

    @property
    def base(self) -> str:
        return self.auth.base

    @base.setter
    def base(self, value: str) -> None:
        self.auth.base = value
        self.fhir.base = value

    def jwks(self) -> dict[str, Any]:
        """The public keys the EHR signs id_tokens with."""
        return jwks_of(self.auth.key)

    def reset(self) -> None:
        """An honest EHR again."""
        self.auth.reset()
        self.deny = None

    async def authorize(self, request: Request) -> Response:
        if self.deny is not None:
            q = request.query_params
            back = urlencode({"error": self.deny, "state": q.get("state", "")})
            return RedirectResponse(f"{q['redirect_uri']}?{back}", status_code=302)
        return await self.auth.authorize(request)

    async def token(self, request: Request) -> Response:
        answer = await self.auth.token(request)
        if answer.status_code == 200:
            issued = json.loads(bytes(answer.body))["access_token"]
            self.fhir.tokens.add(issued)
            self.issued.append(issued)
        return answer

    def app(self) -> Starlette:
        fhir_routes = self.fhir.app().routes
        return Starlette(
            routes=[
                Route("/fhir/authorize", self.authorize),
                Route("/fhir/token", self.token, methods=["POST"]),
                *fhir_routes,
            ]
        )
