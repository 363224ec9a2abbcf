"""The evidence pack's layout, limits and manifest encoding, shared by the writer and the
offline verifier (``docs/evidence-pack.md``).

The pack is a zip. ``manifest.json`` lists every other file with its SHA-256 and size;
``manifest.sig`` is the raw 64-byte Ed25519 signature over the exact bytes of
``manifest.json`` (so ``openssl pkeyutl -verify -rawin`` checks it without CaseLens).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

PACK_KIND = "caselens-evidence-pack"
PACK_VERSION = 1
MANIFEST = "manifest.json"
MANIFEST_SIG = "manifest.sig"
ENTRIES = "trail/entries.jsonl"
CHECKPOINTS = "trail/checkpoints.jsonl"
AUDIT_KEY_IDS = "keys/audit-key-ids.json"
README = "README.txt"
#: The server's public signing keys: ``keys/signing/<key id>.pub.pem``.
SIGNING_KEYS_DIR = "keys/signing/"
#: Model cards by model file SHA-256: ``models/<sha256>/card.json`` (+ ``signature.json``).
MODELS_DIR = "models/"
#: Every member's time in the zip: fixed, so the same range gives the same bytes.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)

#: Most entries one pack holds (a display entry is ~10 KB: ~200 MB, built in memory).
MAX_PACK_ENTRIES = 20_000
#: Most files one pack holds (entries are one file; cards and keys are few).
MAX_PACK_MEMBERS = 2_000
#: Largest total uncompressed size the verifier reads (the entry bound times a big entry).
MAX_PACK_BYTES = 512 * 1024 * 1024
#: Largest manifest, signature and small file (cards, keys) the verifier reads.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
#: Longest pack file the verifier reads from disk (compressed).
MAX_PACK_FILE_BYTES = MAX_PACK_BYTES


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """The canonical bytes of a manifest (sorted keys, compact, UTF-8): what is signed."""
    return json.dumps(
        manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def entry_line(fields: dict[str, Any]) -> bytes:
    """One entry as a canonical JSON line (every stored field, the report text included)."""
    return manifest_bytes(fields) + b"\n"


def day_bounds(first: date, last: date) -> tuple[str, str]:
    """``(since, until)`` in the trail's time format for the UTC days ``first``..``last``
    inclusive: ``since <= recorded_at < until``."""
    from datetime import UTC, datetime, timedelta

    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    fmt = "%Y-%m-%dT%H:%M:%S.000Z"
    return start.strftime(fmt), end.strftime(fmt)
