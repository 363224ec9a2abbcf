"""A JSON Web Key Set read from a file an operator configured: an EHR's keys that sign its
CDS Hooks JWTs (:mod:`caselens.cds.issuers`) and its SMART id_tokens
(:mod:`caselens.fhir.smart_launch`). Bounded in size; every failure named with the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from caselens.errors import CaseLensError

#: Largest key-set file read (a JWKS of a few keys is a few kB).
MAX_KEY_SET_BYTES = 1_000_000


class KeySetError(CaseLensError):
    """A key-set file cannot be used: the message names the file and why."""


def read_key_set(path: Path, *, what: str = "JWKS file") -> dict[str, Any]:
    """The file's keys by their ``kid`` (keys without one are left out), as PyJWT keys.

    Raises
    ------
    KeySetError
        When the file is over :data:`MAX_KEY_SET_BYTES`, cannot be read, is not JSON or is
        not a usable key set.
    """
    from jwt import PyJWKSet
    from jwt.exceptions import PyJWKError, PyJWKSetError

    try:
        if path.stat().st_size > MAX_KEY_SET_BYTES:
            raise KeySetError(f"{what} {path}: larger than {MAX_KEY_SET_BYTES:,} bytes.")
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KeySetError(f"{what} {path}: cannot be read ({exc.strerror}).") from None
    except ValueError as exc:
        raise KeySetError(f"{what} {path}: not valid JSON ({exc}).") from None
    try:
        key_set = PyJWKSet.from_dict(data)
    except (PyJWKError, PyJWKSetError, TypeError, AttributeError) as exc:
        raise KeySetError(f"{what} {path}: not a usable key set ({exc}).") from None
    return {key.key_id: key for key in key_set.keys if key.key_id}
