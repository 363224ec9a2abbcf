"""The CDS Hooks 2.0 service as an ASGI app (Starlette), a shell over the workflow door.

* ``GET /cds-services``: discovery, one ``patient-view`` service per active model.
* ``POST /cds-services/{id}``: the JWT is verified first (:mod:`.tokens`), then the issuer's
  rate (:mod:`.rate_limit`), then the bounded body; the door decides and records the card
  (:meth:`caselens.workflow.Workflow.cds_card`) before it is sent.
* ``POST /cds-services/{id}/feedback``: the same checks; each item recorded through the door.

Answers: 401 for a refused token (``WWW-Authenticate: Bearer``), 429 with ``Retry-After``
past the issuer's rate, 413 for a body over :data:`MAX_BODY_BYTES`, 400 for a request that is
not CDS Hooks, 404 for an unknown service or card, 412 when a prefetch key the service needs
was not sent and cannot be read from the EHR's FHIR server (:mod:`.fhir_fetch`), 500 with no
card when the audit trail cannot take the entry. The log names the service, the status and
the reason, never a patient, a token or a clinical value.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from caselens.cds.cards import render_card
from caselens.cds.discovery import discovery_document
from caselens.cds.fhir_fetch import FetchFailed, fetch_missing, fhir_access
from caselens.cds.issuers import TrustedIssuer
from caselens.cds.prefetch import (
    PrefetchInvalid,
    PrefetchMissing,
    inputs_from_prefetch,
    prefetch_templates,
)
from caselens.cds.rate_limit import IssuerRateLimit
from caselens.cds.tokens import TokenRefused, VerifiedToken, verify_token
from caselens.runtime import Runtime
from caselens.workflow import (
    PATIENT_REF_PATTERN,
    CardFeedback,
    HookCall,
    InputsFromRecord,
    NotRecorded,
    Refused,
    WorkflowError,
)

#: Largest request body read: a prefetch of a few years of a patient's observations,
#: conditions and encounters is a few megabytes.
MAX_BODY_BYTES = 10_000_000
#: Most feedback items read from one request.
MAX_FEEDBACK_ITEMS = 100
#: Longest id or text field read from a request (hook instance, user id, card id).
MAX_FIELD_CHARS = 500
#: The one hook the services answer.
HOOK = "patient-view"

LOG = logging.getLogger("caselens.cds")


class RequestProblem(Exception):
    """A request the service answers with an error status; the message names what is wrong
    (never a patient or a token)."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class CdsConfig:
    """What the service needs besides the runtime."""

    #: The service's public base URL (a JWT's ``aud`` is this + the endpoint's path).
    base_url: str
    issuers: Mapping[str, TrustedIssuer]
    #: The app's public URL, for the card's links; None: no links.
    app_url: str | None = None
    #: Whether the app offers sign-in with the EHR (SMART): the card's link is then a
    #: ``smart`` link the EHR launches the app with.
    smart_launch: bool = False
    #: Today's date (UTC) as the case date of a record.
    today: Callable[[], dt.date] = lambda: dt.datetime.now(dt.UTC).date()


def _error(problem: RequestProblem, service_id: str) -> JSONResponse:
    # Only a refused token's reason is logged (this module's words and PyJWT's): other
    # messages may quote what the request sent, and a request may carry a patient's data.
    reason = problem.message if problem.status == 401 else "refused"
    LOG.info("cds %r: %s %s", service_id[:100], problem.status, reason)
    return JSONResponse({"error": problem.message}, problem.status, headers=problem.headers)


class CdsService:
    """The endpoints, bound to one runtime (its door, its stores) and one configuration."""

    def __init__(
        self, runtime: Runtime, config: CdsConfig, rate_limit: IssuerRateLimit | None = None
    ) -> None:
        self.runtime = runtime
        self.config = config
        self.rate_limit = rate_limit or IssuerRateLimit()

    def _audience(self, path: str) -> str:
        return self.config.base_url.rstrip("/") + path

    async def _verified(self, request: Request, path: str) -> VerifiedToken:
        store = self.runtime.cds_calls

        def claim(issuer: str, jti: str, expires_at: dt.datetime) -> bool:
            return store.claim_token_id(issuer, jti, expires_at=expires_at)

        try:
            token = await run_in_threadpool(
                verify_token,
                request.headers.get("authorization"),
                audience=self._audience(path),
                issuers=self.config.issuers,
                claim_token_id=claim,
            )
        except TokenRefused as exc:
            challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            raise RequestProblem(401, f"Unauthorized: {exc.reason}.", challenge) from None
        wait = self.rate_limit.take(token.issuer)
        if wait is not None:
            raise RequestProblem(
                429, "Too many calls from this EHR; retry later.", {"Retry-After": str(wait)}
            )
        return token

    @staticmethod
    async def _json_body(request: Request) -> dict[str, Any]:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise RequestProblem(413, f"The body is larger than {MAX_BODY_BYTES:,} bytes.")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise RequestProblem(413, f"The body is larger than {MAX_BODY_BYTES:,} bytes.")
            chunks.append(chunk)
        try:
            body = json.loads(b"".join(chunks))
        except (ValueError, RecursionError):
            raise RequestProblem(400, "The body is not JSON.") from None
        if not isinstance(body, dict):
            raise RequestProblem(400, "The body must be a JSON object.")
        return body

    # -- endpoints ---------------------------------------------------------------------------

    async def discovery(self, request: Request) -> JSONResponse:
        """``GET /cds-services``: the services (one per active model)."""
        document = await run_in_threadpool(
            discovery_document, self.runtime.workflow.catalogue, self.runtime.model_statuses
        )
        return JSONResponse(document)

    async def call(self, request: Request) -> JSONResponse:
        """``POST /cds-services/{id}``: the card for a ``patient-view`` call."""
        service_id = request.path_params["service_id"]
        try:
            token = await self._verified(request, f"/cds-services/{service_id}")
            body = await self._json_body(request)
            if service_id not in self.runtime.catalogue.bundles:
                raise RequestProblem(404, "No such CDS service.")
            call = _hook_call(body, service_id, token)
            # The live version of the model id (the workflow's view): its inputs are read
            # from the record and its card describes it.
            bundle = self.runtime.workflow.bundle(service_id)
            card = await run_in_threadpool(self._card, call, body, bundle)
        except RequestProblem as problem:
            return _error(problem, service_id)
        LOG.info("cds %r: 200 card (%s)", service_id[:100], card["indicator"])
        return JSONResponse({"cards": [card]})

    def _card(self, call: HookCall, body: dict[str, Any], bundle: Any) -> dict[str, Any]:
        workflow = self.runtime.workflow
        if self.runtime.model_statuses.get(call.model_id).suspended:
            inputs = InputsFromRecord()  # no prediction: the record is not read
        else:
            allowed = self.config.issuers[call.issuer].fhir_servers
            prefetch = _filled_prefetch(bundle, body, call.patient_id, allowed)
            inputs = _inputs(bundle, prefetch, call.patient_id, self.config.today())
        try:
            decision = workflow.cds_card(call, inputs)
        except NotRecorded as exc:
            raise RequestProblem(500, str(exc)) from None
        except Refused as exc:
            raise RequestProblem(403, str(exc)) from None
        except WorkflowError as exc:
            raise RequestProblem(400, str(exc)) from None
        return render_card(
            decision,
            bundle,
            app_url=self.config.app_url,
            smart_launch=self.config.smart_launch,
        )

    async def feedback(self, request: Request) -> JSONResponse:
        """``POST /cds-services/{id}/feedback``: each item recorded against its card."""
        service_id = request.path_params["service_id"]
        try:
            token = await self._verified(request, f"/cds-services/{service_id}/feedback")
            body = await self._json_body(request)
            if service_id not in self.runtime.catalogue.bundles:
                raise RequestProblem(404, "No such CDS service.")
            items = [_feedback_item(item, n, token) for n, item in enumerate(_items(body))]
            await run_in_threadpool(self._record_feedback, items, service_id)
        except RequestProblem as problem:
            return _error(problem, service_id)
        LOG.info("cds %r: 200 feedback (%d)", service_id[:100], len(items))
        return JSONResponse({})

    def _record_feedback(self, items: list[CardFeedback], service_id: str) -> None:
        workflow = self.runtime.workflow
        for number, item in enumerate(items):
            try:
                workflow.cds_feedback(item, model_id=service_id)
            except NotRecorded as exc:
                raise RequestProblem(500, str(exc)) from None
            except WorkflowError as exc:
                status = 404 if "no card" in str(exc) else 400
                raise RequestProblem(status, f"feedback[{number}]: {exc}") from None


def _text(value: Any, what: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_FIELD_CHARS:
        raise RequestProblem(
            400, f"{what}: expected a non-empty string of at most {MAX_FIELD_CHARS} characters."
        )
    return value


def _hook_call(body: dict[str, Any], service_id: str, token: VerifiedToken) -> HookCall:
    if body.get("hook") != HOOK:
        raise RequestProblem(400, f"hook: this service answers '{HOOK}' only.")
    context = body.get("context")
    if not isinstance(context, dict):
        raise RequestProblem(400, "context: expected an object with userId and patientId.")
    if body.get("fhirAuthorization") is not None and not body.get("fhirServer"):
        raise RequestProblem(400, "fhirAuthorization is given without fhirServer.")
    patient_id = str(_text(context.get("patientId"), "context.patientId"))
    if not PATIENT_REF_PATTERN.fullmatch(patient_id):
        raise RequestProblem(
            400, "context.patientId: expected a FHIR id (letters, digits, '-', '.'; 1 to 64)."
        )
    return HookCall(
        model_id=service_id,
        issuer=token.issuer,
        user_id=str(_text(context.get("userId"), "context.userId")),
        patient_id=patient_id,
        hook_instance=str(_text(body.get("hookInstance"), "hookInstance")),
    )


def _filled_prefetch(
    bundle: Any, body: dict[str, Any], patient_id: str, allowed: tuple[str, ...]
) -> Any:
    """The call's prefetch, with what it lacks read from the EHR's FHIR server when the call
    gives access to one the operator allowed (the token is used here and dropped)."""
    prefetch = body.get("prefetch")
    access = fhir_access(body, allowed)
    if access is None or (prefetch is not None and not isinstance(prefetch, dict)):
        return prefetch
    server, token = access
    try:
        return fetch_missing(
            prefetch_templates(bundle),
            prefetch or {},
            patient_id=patient_id,
            server=server,
            token=token,
        )
    except FetchFailed as exc:
        raise RequestProblem(412, f"Prefetch could not be read: {exc}.") from None


def _inputs(bundle: Any, prefetch: Any, patient_id: str, today: dt.date) -> InputsFromRecord:
    try:
        return inputs_from_prefetch(bundle, prefetch, patient_id=patient_id, case_date=today)
    except PrefetchMissing as exc:
        raise RequestProblem(
            412,
            "Prefetch missing: " + ", ".join(k[:60] for k in exc.keys[:20]) + " (send the "
            "prefetch the discovery document lists, or fhirServer and fhirAuthorization for "
            "a FHIR server this service is configured to read for your EHR).",
        ) from None
    except PrefetchInvalid as exc:
        raise RequestProblem(400, str(exc)) from None


def _items(body: dict[str, Any]) -> list[Any]:
    items = body.get("feedback")
    if not isinstance(items, list) or not items:
        raise RequestProblem(400, "feedback: expected a non-empty list.")
    if len(items) > MAX_FEEDBACK_ITEMS:
        raise RequestProblem(400, f"feedback: at most {MAX_FEEDBACK_ITEMS} items.")
    return items


def _feedback_item(item: Any, number: int, token: VerifiedToken) -> CardFeedback:
    where = f"feedback[{number}]"
    if not isinstance(item, dict):
        raise RequestProblem(400, f"{where}: expected an object.")
    override = item.get("overrideReason")
    reason = override.get("reason") if isinstance(override, dict) else None
    code = reason.get("code") if isinstance(reason, dict) else None
    display = reason.get("display") if isinstance(reason, dict) else None
    comment = override.get("userComment") if isinstance(override, dict) else None
    stamp = item.get("outcomeTimestamp")
    return CardFeedback(
        card_uuid=str(_text(item.get("card"), f"{where}.card")),
        outcome=str(_text(item.get("outcome"), f"{where}.outcome")),
        issuer=token.issuer,
        client_id=token.client_id,
        override_code=_text(code, f"{where}.overrideReason.reason.code", required=False),
        override_display=_text(display, f"{where}.overrideReason.reason.display", required=False),
        user_comment=_text(comment, f"{where}.overrideReason.userComment", required=False),
        outcome_timestamp=_text(stamp, f"{where}.outcomeTimestamp", required=False),
    )


def create_app(
    runtime: Runtime, config: CdsConfig, *, rate_limit: IssuerRateLimit | None = None
) -> Starlette:
    """The ASGI app of the CDS Hooks service over ``runtime``'s door."""
    service = CdsService(runtime, config, rate_limit)
    app = Starlette(
        routes=[
            Route("/cds-services", service.discovery, methods=["GET"]),
            Route("/cds-services/{service_id}", service.call, methods=["POST"]),
            Route("/cds-services/{service_id}/feedback", service.feedback, methods=["POST"]),
        ]
    )
    app.state.cds = service
    return app
