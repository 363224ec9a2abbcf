"""Sending a result to the configured FHIR server: one ``POST`` of a transaction Bundle.

Bounded on every side: a connect/read timeout, the answer read up to
:data:`MAX_ANSWER_BYTES`, no redirects followed, plain ``http`` only to this machine. The
bearer token is read from its file at each send and is never put in a message, a log or the
audit trail; every failure comes back as a :class:`SendOutcome` with the reason in words
(the workflow records it and shows it), never as a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from caselens.errors import CaseLensError

#: Seconds to connect and to wait for the answer: an EHR server slower than this is reported
#: as not answering rather than holding the clinician's click.
SEND_TIMEOUT_S = 10.0
#: Largest answer read from the server (a transaction-response of four entries is ~2 KB).
MAX_ANSWER_BYTES = 1_000_000
#: Largest token file read (a bearer token or JWT is a few KB).
MAX_TOKEN_BYTES = 16_384
#: Longest piece of the server's own words kept (an OperationOutcome's diagnostics).
MAX_SERVER_TEXT = 300
#: Hosts a result may be sent to over plain http: this machine only (tests, a local proxy).
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


class FhirDestinationError(CaseLensError):
    """The configured FHIR server's address or token file cannot be used; says why."""


@dataclass(frozen=True)
class FhirServer:
    """Where results are sent: the server's base URL and the file holding its bearer token.

    Raises
    ------
    FhirDestinationError
        When the URL is not http(s), carries a user name or password, or is plain http to
        another machine.
    """

    base_url: str
    token_file: Path | None = None
    timeout_s: float = SEND_TIMEOUT_S

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FhirDestinationError(
                "CASELENS_FHIR_URL: expected an http(s) URL such as "
                f"https://fhir.example.org/R4, got {self.base_url[:80]!r}."
            )
        if parts.username or parts.password:
            raise FhirDestinationError(
                "CASELENS_FHIR_URL: no user name or password in the URL; put the token "
                "in the file CASELENS_FHIR_TOKEN_FILE names."
            )
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
            raise FhirDestinationError(
                "CASELENS_FHIR_URL: patient data is sent over https only (plain http is "
                f"allowed to this machine only), got {parts.scheme}://{parts.hostname}."
            )

    def token(self) -> str | None:
        """The bearer token from the file, or None when no file is configured.

        Raises
        ------
        FhirDestinationError
            When the file cannot be read, is empty, too large or not one line (its content
            is never quoted).
        """
        if self.token_file is None:
            return None
        try:
            with self.token_file.open("rb") as handle:
                raw = handle.read(MAX_TOKEN_BYTES + 1)
        except OSError as exc:
            raise FhirDestinationError(
                f"CASELENS_FHIR_TOKEN_FILE: {self.token_file} cannot be read ({exc.strerror})."
            ) from exc
        if len(raw) > MAX_TOKEN_BYTES:
            raise FhirDestinationError(
                f"CASELENS_FHIR_TOKEN_FILE: larger than {MAX_TOKEN_BYTES:,} bytes."
            )
        try:
            token = raw.decode("ascii").strip()
        except UnicodeDecodeError as exc:
            raise FhirDestinationError("CASELENS_FHIR_TOKEN_FILE: not an ASCII token.") from exc
        if not token or any(c.isspace() for c in token):
            raise FhirDestinationError(
                "CASELENS_FHIR_TOKEN_FILE: expected one token on one line (no spaces)."
            )
        return token


@dataclass(frozen=True)
class SendOutcome:
    """The server's answer to one transaction, in words.

    Attributes
    ----------
    ok : bool
        True when the server answered 2xx and every entry was accepted.
    status : int or None
        The HTTP status (None when no answer came).
    locations : tuple of str
        Where the server filed each resource (``RiskAssessment/…/_history/1``).
    problem : str or None
        Why it failed, in words (None when it did not).
    """

    ok: bool
    status: int | None
    locations: tuple[str, ...] = ()
    problem: str | None = None

    def detail(self) -> dict[str, Any]:
        """What the audit entry keeps of it."""
        return {
            "ok": self.ok,
            "status": self.status,
            "locations": list(self.locations),
            "problem": self.problem,
        }


def _server_words(data: Any) -> str:
    """An OperationOutcome's diagnostics (or nothing), bounded."""
    if not isinstance(data, dict) or data.get("resourceType") != "OperationOutcome":
        return ""
    issues = data.get("issue") if isinstance(data.get("issue"), list) else []
    words = "; ".join(
        str(i.get("diagnostics") or i.get("code") or "") for i in issues if isinstance(i, dict)
    )
    return words[:MAX_SERVER_TEXT]


def _locations(data: Any) -> tuple[str, ...]:
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        return ()
    entries = data.get("entry") if isinstance(data.get("entry"), list) else []
    found = []
    for item in entries[:100]:
        response = item.get("response") if isinstance(item, dict) else None
        if isinstance(response, dict) and isinstance(response.get("location"), str):
            found.append(response["location"][:200])
    return tuple(found)


def send_transaction(
    server: FhirServer, bundle: dict[str, Any], *, transport: Any = None
) -> SendOutcome:
    """``POST`` a transaction Bundle to the server's base URL and read its answer.

    Parameters
    ----------
    server : FhirServer
    bundle : dict
        A ``transaction`` Bundle (``risk_assessment_bundle(..., bundle_type="transaction")``).
    transport : httpx transport, optional
        For tests that talk to an in-process application.

    Returns
    -------
    SendOutcome
        Never raises for a network or server problem: the problem is in the outcome.
    """
    import httpx

    try:
        token = server.token()
    except FhirDestinationError as exc:
        return SendOutcome(False, None, problem=str(exc))
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps(bundle, ensure_ascii=False).encode("utf-8")
    where = server.base_url.rstrip("/")
    try:
        with (
            httpx.Client(
                timeout=server.timeout_s, follow_redirects=False, transport=transport
            ) as client,
            client.stream("POST", where, content=body, headers=headers) as response,
        ):
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    return SendOutcome(
                        False,
                        response.status_code,
                        problem=f"the server's answer is larger than {MAX_ANSWER_BYTES:,} bytes",
                    )
                chunks.append(chunk)
            status = response.status_code
    except httpx.TimeoutException:
        return SendOutcome(
            False, None, problem=f"the FHIR server did not answer within {server.timeout_s:g} s"
        )
    except httpx.HTTPError as exc:
        return SendOutcome(
            False, None, problem=f"the FHIR server could not be reached ({type(exc).__name__})"
        )
    try:
        data = json.loads(b"".join(chunks))
    except ValueError:
        data = None
    if not 200 <= status < 300:
        words = _server_words(data)
        return SendOutcome(
            False,
            status,
            problem=f"the FHIR server answered {status}" + (f": {words}" if words else ""),
        )
    locations = _locations(data)
    if data is None or not locations:
        return SendOutcome(
            False,
            status,
            problem=f"the FHIR server answered {status} without a transaction-response Bundle",
        )
    return SendOutcome(True, status, locations)
