"""The EHRs trusted to call the CDS service, and the public keys that verify their JWTs.

The operator lists them in one JSON file (``CASELENS_CDS_ISSUERS``)::

    {"issuers": [{"iss": "https://ehr.example.org", "jwks_file": "ehr-jwks.json",
                  "fhir_servers": ["https://fhir.ehr.example.org/r4"]}]}

Each issuer's keys are a JSON Web Key Set in a local file (a relative path is read beside the
issuers file). Keys are never fetched from a URL a token names (``jku``): a token could then
bring its own key. An issuer not in the file is unknown, and its calls get 401.

``fhir_servers`` (optional) are the FHIR servers the service may read from on that EHR's
behalf when a call's prefetch lacks something: a call naming any other ``fhirServer`` is
not followed (the service never fetches from an address a caller chose).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from jwt import PyJWK

from caselens.errors import CaseLensError
from caselens.fhir.key_sets import KeySetError, read_key_set

#: Largest issuers or JWKS file read (a JWKS of a few keys is a few kilobytes).
MAX_KEY_FILE_BYTES = 1_000_000
#: Most issuers in one file (an operator lists a handful of EHRs).
MAX_ISSUERS = 100
#: Longest issuer URL accepted.
MAX_ISSUER_CHARS = 500


class IssuersError(CaseLensError):
    """The issuers file or a JWKS file cannot be used; the message names which and why."""


@dataclass(frozen=True)
class TrustedIssuer:
    """One EHR: its issuer (``iss``) and its public keys by key id (``kid``)."""

    issuer: str
    keys: Mapping[str, PyJWK]
    #: FHIR base URLs the service may read from for this EHR (no trailing slash).
    fhir_servers: tuple[str, ...] = ()


def _read_json(path: Path, what: str) -> object:
    try:
        if path.stat().st_size > MAX_KEY_FILE_BYTES:
            raise IssuersError(f"{what} {path}: larger than {MAX_KEY_FILE_BYTES:,} bytes.")
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise IssuersError(f"{what} {path}: cannot be read ({exc.strerror}).") from exc
    except ValueError as exc:
        raise IssuersError(f"{what} {path}: not valid JSON ({exc}).") from exc


def _key_set(path: Path, issuer: str) -> dict[str, PyJWK]:
    try:
        keys = read_key_set(path, what=f"JWKS file of {issuer}")
    except KeySetError as exc:
        raise IssuersError(str(exc)) from None
    if not keys:
        raise IssuersError(
            f"JWKS file {path} of {issuer}: no key with a 'kid' (CDS Hooks JWTs name their key)."
        )
    return keys


def load_issuers(path: Path | None) -> dict[str, TrustedIssuer]:
    """The trusted issuers of the file at ``path`` (none when ``path`` is None).

    Raises
    ------
    IssuersError
        Naming the file, the entry and what is wrong.
    """
    if path is None:
        return {}
    data = _read_json(path, "CDS issuers file")
    entries = data.get("issuers") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise IssuersError(f'CDS issuers file {path}: expected {{"issuers": [...]}}.')
    if len(entries) > MAX_ISSUERS:
        raise IssuersError(f"CDS issuers file {path}: more than {MAX_ISSUERS} issuers.")
    issuers: dict[str, TrustedIssuer] = {}
    for number, entry in enumerate(entries, start=1):
        iss = entry.get("iss") if isinstance(entry, dict) else None
        jwks = entry.get("jwks_file") if isinstance(entry, dict) else None
        if not isinstance(iss, str) or not iss.strip() or len(iss) > MAX_ISSUER_CHARS:
            raise IssuersError(f"CDS issuers file {path}, issuer {number}: 'iss' must be a URL.")
        if not isinstance(jwks, str) or not jwks.strip():
            raise IssuersError(
                f"CDS issuers file {path}, issuer {number} ({iss}): 'jwks_file' is required."
            )
        jwks_path = Path(jwks) if Path(jwks).is_absolute() else path.parent / jwks
        servers = entry.get("fhir_servers", [])
        if not isinstance(servers, list) or not all(
            isinstance(s, str) and s.startswith(("https://", "http://")) for s in servers
        ):
            raise IssuersError(
                f"CDS issuers file {path}, issuer {number} ({iss}): 'fhir_servers' must be a "
                "list of http(s) URLs."
            )
        fhir_servers = tuple(s.rstrip("/") for s in servers)
        issuers[iss] = TrustedIssuer(iss, _key_set(jwks_path, iss), fhir_servers)
    return issuers
