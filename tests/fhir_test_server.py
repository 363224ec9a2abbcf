"""A small local FHIR server for the tests: a real uvicorn server (in a thread) for transactions.

It accepts ``POST <base>`` of a transaction Bundle and answers as a FHIR server would: a
``transaction-response`` Bundle with a ``201 Created`` and a location per entry (each resource
validated with the R4B models first; an invalid one gets a 400 OperationOutcome). Four other
bases misbehave on purpose: ``/fail`` answers 500 with an OperationOutcome, ``/slow`` never
answers within the client's timeout, ``/html`` answers 200 with a web page, ``/huge`` answers
2 MB. Every request is kept (headers and JSON body) for the tests to read.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fhir.resources.R4B import get_fhir_model_class
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from caselens.bench.app import free_port

FHIR_JSON = "application/fhir+json"
#: How long /slow holds a request (the client's timeout in the tests is far shorter).
SLOW_HOLD_S = 5.0
#: The size of /huge's answer: twice what CaseLens reads.
HUGE_ANSWER_BYTES = 2_000_000


@dataclass
class Received:
    """What the server was sent."""

    requests: list[dict[str, Any]] = field(default_factory=list)


def _outcome(status: int, words: str) -> JSONResponse:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "processing", "diagnostics": words}],
    }
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


def build_app(received: Received, stop: asyncio.Event | None = None) -> Starlette:
    """The server's ASGI app (see the module notes)."""

    async def transaction(request: Request) -> Response:
        mode = request.path_params["mode"]
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        received.requests.append(
            {"mode": mode, "headers": dict(request.headers), "body": body, "raw": raw}
        )
        if mode == "slow":
            await asyncio.sleep(SLOW_HOLD_S)
        if mode == "fail":
            return _outcome(500, "the database is down")
        if mode == "html":
            return Response("<html><body>Welcome</body></html>", media_type="text/html")
        if mode == "huge":  # an answer far larger than any transaction-response
            return Response(b" " * HUGE_ANSWER_BYTES, media_type=FHIR_JSON)
        if not isinstance(body, dict) or body.get("type") != "transaction":
            return _outcome(400, "expected a transaction Bundle")
        entries = []
        for item in body.get("entry", []):
            resource = item["resource"]
            try:
                get_fhir_model_class(resource["resourceType"]).model_validate(resource)
            except Exception as exc:  # any invalid resource is a 400, as a server says
                return _outcome(400, f"invalid {resource.get('resourceType')}: {exc}")
            entries.append(
                {
                    "response": {
                        "status": "201 Created",
                        "location": f"{item['request']['url']}/_history/1",
                    }
                }
            )
        answer = {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
        return JSONResponse(answer, media_type=FHIR_JSON)

    return Starlette(routes=[Route("/{mode}", transaction, methods=["POST"])])


@dataclass
class RunningServer:
    """A started server: its address and what it received."""

    url: str
    received: Received

    def base(self, mode: str = "ok") -> str:
        """The base URL of one behaviour: ok, fail, slow or html."""
        return f"{self.url}/{mode}"


@contextmanager
def fhir_test_server() -> Iterator[RunningServer]:
    """Run the server on a free local port in a thread for the duration of the block."""
    received = Received()
    port = free_port()
    config = uvicorn.Config(
        build_app(received), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):  # started within a few hundred ms; waits on the flag, not a clock
        if server.started:
            break
        threading.Event().wait(0.01)
    else:
        raise RuntimeError("the test FHIR server did not start")
    try:
        yield RunningServer(f"http://127.0.0.1:{port}", received)
    finally:
        server.should_exit = True
        server.force_exit = True
        thread.join(timeout=SLOW_HOLD_S + 5)
