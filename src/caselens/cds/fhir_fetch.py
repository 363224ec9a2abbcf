"""Reading what the prefetch lacks from the EHR's FHIR server, with the access token the EHR
sent (``fhirAuthorization``), as CDS Hooks 2.0 allows.

The token is used for these reads only: it is never stored, logged, recorded or passed to
the door. Only a FHIR server the operator listed for the calling EHR is read
(:class:`caselens.cds.issuers.TrustedIssuer.fhir_servers`): the service never fetches from an
address a caller chose. Each read is bounded (time, size, pages of a search) and follows no
redirect; a failed read names the prefetch key and the HTTP status, never the URL (it holds
the patient's id).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urljoin

import httpx

from caselens.cds.prefetch import PATIENT_TOKEN

#: Seconds one read may take (a card is waited for by a clinician opening a chart).
FETCH_TIMEOUT_S = 5.0
#: Largest FHIR answer read (one page of a search).
MAX_FETCH_BYTES = 5_000_000
#: Most pages of one search followed (``next`` links on the same server).
MAX_SEARCH_PAGES = 5


class FetchFailed(Exception):
    """A read from the FHIR server failed; the message names the prefetch key, not the URL."""


def fhir_access(body: Mapping[str, Any], allowed: tuple[str, ...]) -> tuple[str, str] | None:
    """``(server, access token)`` when the call gives a bearer token for a FHIR server the
    operator allowed for this EHR; else None (nothing may be fetched)."""
    server, authorization = body.get("fhirServer"), body.get("fhirAuthorization")
    if not isinstance(server, str) or not isinstance(authorization, dict):
        return None
    token = authorization.get("access_token")
    if str(authorization.get("token_type", "")).lower() != "bearer" or not isinstance(token, str):
        return None
    server = server.rstrip("/")
    if server not in allowed or not token:
        return None
    return server, token


def _read(client: httpx.Client, url: str, key: str) -> Any:
    try:
        with client.stream("GET", url) as answer:
            if answer.status_code != 200:
                raise FetchFailed(f"'{key}': the FHIR server answered HTTP {answer.status_code}")
            data = bytearray()
            for chunk in answer.iter_bytes():
                data += chunk
                if len(data) > MAX_FETCH_BYTES:
                    raise FetchFailed(f"'{key}': the answer is over {MAX_FETCH_BYTES:,} bytes")
    except httpx.HTTPError as exc:
        what = type(exc).__name__
        raise FetchFailed(f"'{key}': the FHIR server could not be read ({what})") from None
    try:
        return json.loads(bytes(data))
    except (ValueError, RecursionError):
        raise FetchFailed(f"'{key}': the FHIR server's answer is not JSON") from None


def _search(client: httpx.Client, server: str, url: str, key: str) -> dict[str, Any]:
    first = _read(client, url, key)
    if not isinstance(first, dict) or first.get("resourceType") != "Bundle":
        return first
    entries = list(first.get("entry") or [])
    page = first
    for _ in range(MAX_SEARCH_PAGES - 1):
        links = page.get("link") if isinstance(page.get("link"), list) else []
        following = [
            link.get("url")
            for link in links
            if isinstance(link, dict) and link.get("relation") == "next"
        ]
        if not following or not isinstance(following[0], str):
            break
        next_url = urljoin(server + "/", following[0])
        if not next_url.startswith(server + "/"):
            break  # a next link to another server is not followed
        page = _read(client, next_url, key)
        if not isinstance(page, dict):
            break
        entries += list(page.get("entry") or [])
    return {"resourceType": "Bundle", "type": "searchset", "entry": entries}


def fetch_missing(
    templates: Mapping[str, str],
    prefetch: Mapping[str, Any],
    *,
    patient_id: str,
    server: str,
    token: str,
) -> dict[str, Any]:
    """The prefetch with every key it lacks (absent or null) read from ``server``.

    Raises
    ------
    FetchFailed
        Naming the key whose read failed.
    """
    filled = dict(prefetch)
    missing = [key for key in templates if filled.get(key) is None]
    if not missing:
        return filled
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}
    with httpx.Client(
        headers=headers, timeout=FETCH_TIMEOUT_S, follow_redirects=False, trust_env=False
    ) as client:
        for key in missing:
            query = templates[key].replace(PATIENT_TOKEN, quote(patient_id, safe=""))
            filled[key] = _search(client, server, f"{server}/{query}", key)
    return filled
