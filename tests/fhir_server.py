"""A local FHIR R4 test server: answers REST reads and searches from synthetic records.

No FHIR server process (HAPI, Aidbox …) can be installed from the package registries here, so
the fetch path is tested against this small Starlette app under a real uvicorn on a free port:
``GET /fhir/Patient/{id}``, ``GET /fhir/{type}?patient=&code=|class=|type=&_count=`` (and
``?_id=a,b`` for Medications) with
``next`` links paging through ``_offset``, and a SMART Backend Services token endpoint
(``POST /token``) that checks the client assertion's signature (against the test's public
key), ``iss``/``sub``, ``aud``, expiry and ``jti`` reuse. Every FHIR request must carry the
token the server issued or was given. ``hostile`` answers (a huge body, a deep body, a next
link to another host) test the client's limits.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jwt
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from caselens.fhir.matching import DEFAULT_CODE_ELEMENTS, codings

FHIR_JSON = "application/fhir+json"


class FhirTestServer:
    """The server's data and credentials; :func:`running` serves it."""

    def __init__(
        self,
        records: list[bytes],
        *,
        token: str = "test-token",
        client_id: str = "caselens-test",
        public_key: Any = None,
    ) -> None:
        self.resources: list[dict[str, Any]] = []
        for record in records:
            self.resources += [e["resource"] for e in json.loads(record)["entry"]]
        self.tokens = {token}
        self.client_id = client_id
        self.public_key = public_key
        self.seen_jti: set[str] = set()
        self.hostile: str | None = None
        self.base = ""
        self.requests: list[str] = []

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        return header.startswith("Bearer ") and header[7:] in self.tokens

    def _outcome(self, status: int, text: str) -> JSONResponse:
        body = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "processing", "diagnostics": text}],
        }
        return JSONResponse(body, status_code=status, media_type=FHIR_JSON)

    async def read(self, request: Request) -> Response:
        self.requests.append(str(request.url))
        if not self._authorised(request):
            return self._outcome(401, "no valid token")
        kind, rid = request.path_params["kind"], request.path_params["rid"]
        for resource in self.resources:
            if resource["resourceType"] == kind and resource["id"] == rid:
                return JSONResponse(resource, media_type=FHIR_JSON)
        return self._outcome(404, f"{kind}/{rid} not found")

    def _matches(self, resource: dict[str, Any], params: Any) -> bool:
        if "_id" in params:
            return resource["id"] in params["_id"].split(",")
        subject = (resource.get("subject") or {}).get("reference", "")
        if subject != f"Patient/{params.get('patient')}":
            return False
        for name in ("code", "class", "type"):
            if name not in params:
                continue
            wanted = set(params[name].split(","))
            elements = (
                DEFAULT_CODE_ELEMENTS[resource["resourceType"]] if name == "code" else (name,)
            )
            found = {
                f"{system}|{code}" if name != "class" else code
                for element in elements
                for system, code in codings(resource.get(element))
            }
            if not wanted & found:
                return False
        return True

    async def search(self, request: Request) -> Response:
        self.requests.append(str(request.url))
        if not self._authorised(request):
            return self._outcome(401, "no valid token")
        if self.hostile == "huge":
            return Response(b'{"resourceType": "Bundle", "x": "' + b"a" * 21_000_000 + b'"}')
        if self.hostile == "deep":
            return Response(b"[" * 100_000 + b"]" * 100_000, media_type=FHIR_JSON)
        kind = request.path_params["kind"]
        params = request.query_params
        found = [
            r for r in self.resources if r["resourceType"] == kind and self._matches(r, params)
        ]
        count, offset = int(params.get("_count", 50)), int(params.get("_offset", 0))
        page = found[offset : offset + count]

        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(found),
            "entry": [
                {
                    "fullUrl": f"{self.base}/{kind}/{r['id']}",
                    "resource": r,
                    "search": {"mode": "match"},
                }
                for r in page
            ],
        }
        if offset + count < len(found):
            query = {k: v for k, v in params.items() if k != "_offset"}
            query_text = "&".join(f"{k}={v}" for k, v in query.items())
            host = (
                "https://elsewhere.example.org/fhir" if self.hostile == "elsewhere" else self.base
            )
            bundle["link"] = [
                {"relation": "next", "url": f"{host}/{kind}?{query_text}&_offset={offset + count}"}
            ]
        return JSONResponse(bundle, media_type=FHIR_JSON)

    async def token(self, request: Request) -> Response:
        form = await request.form()
        token_url = f"{self.base.removesuffix('/fhir')}/token"
        try:
            if form.get("grant_type") != "client_credentials":
                raise ValueError("grant_type")
            claims = jwt.decode(
                str(form.get("client_assertion")),
                self.public_key,
                algorithms=["RS384", "ES384"],
                audience=token_url,
                options={"require": ["exp", "iss", "sub", "jti"]},
            )
            if claims["iss"] != self.client_id or claims["sub"] != self.client_id:
                raise ValueError("client")
            if claims["jti"] in self.seen_jti or claims["exp"] - time.time() > 300:
                raise ValueError("jti or lifetime")
            self.seen_jti.add(claims["jti"])
        except (jwt.PyJWTError, ValueError, KeyError):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        issued = secrets.token_hex(16)
        self.tokens.add(issued)
        return JSONResponse({"access_token": issued, "token_type": "bearer", "expires_in": 300})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/token", self.token, methods=["POST"]),
                Route("/fhir/{kind}/{rid}", self.read),
                Route("/fhir/{kind}", self.search),
            ]
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(server: FhirTestServer) -> Iterator[str]:
    """Serve under uvicorn on a free local port; yields the FHIR base URL."""
    port = _free_port()
    server.base = f"http://127.0.0.1:{port}/fhir"
    config = uvicorn.Config(server.app(), host="127.0.0.1", port=port, log_level="warning")
    process = uvicorn.Server(config)
    thread = threading.Thread(target=process.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not process.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the FHIR test server did not start")
        time.sleep(0.02)
    try:
        yield server.base
    finally:
        process.should_exit = True
        thread.join(timeout=10)
