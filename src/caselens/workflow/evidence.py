"""The evidence pack through the door: a reviewer exports a signed stretch of the trail.

Checked (the reviewer's ``export_evidence_pack``; a refusal is recorded), bounded (a stated
most entries), built in memory, recorded as ``evidence_exported`` with the range, the entry
count and the pack's SHA-256, and only then handed out: if the record fails, no file.
"""

from __future__ import annotations

import itertools
import json
import re
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from caselens.audit.checkpoints import read_checkpoints
from caselens.audit.errors import AuditError
from caselens.audit.evidence_format import MAX_MANIFEST_BYTES, MAX_PACK_ENTRIES, day_bounds
from caselens.audit.evidence_pack import ModelCardFiles, build_evidence_pack
from caselens.audit.keys import key_id
from caselens.audit.records import AuditEntry, utc_now
from caselens.workflow._door_base import DoorBase
from caselens.workflow.errors import WorkflowError
from caselens.workflow.records import ExportFile, UserSession

if TYPE_CHECKING:
    pass

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Bundle files copied beside a version's card when present (``signature.json``: the
#: publisher's bundle signature, issue 26 item 3).
CARD_FILES = ("card.json", "signature.json")


def parse_day(text: str, field: str) -> date:
    """A UTC day written ``YYYY-MM-DD``; a WorkflowError naming ``field`` otherwise.

    Examples
    --------
    >>> parse_day("2026-03-01", "--from")
    datetime.date(2026, 3, 1)
    """
    value = str(text).strip()
    if not _DAY.match(value):
        raise WorkflowError(f"{field}: expected a UTC date as YYYY-MM-DD, got {value[:40]!r}.")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise WorkflowError(f"{field}: {value!r} is not a calendar date.") from None


def _card_sha(card: bytes | None) -> str | None:
    """The model file SHA-256 a card states, or None for no card or an unreadable one."""
    try:
        value = json.loads(card) if card else None
    except ValueError:
        return None
    return value.get("model_sha256") if isinstance(value, dict) else None


def _caselens_version() -> str:
    try:
        return metadata.version("caselens")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "unknown"


class EvidenceMixin(DoorBase):
    """The reviewer's evidence pack (``caselens audit evidence``, the Audit trail page)."""

    def export_evidence_pack(
        self, session: UserSession, first_day: date, last_day: date
    ) -> ExportFile:
        """The evidence pack of the UTC days ``first_day``..``last_day`` (inclusive).

        Raises
        ------
        Refused
            For a role that may not export it (the refusal is recorded).
        WorkflowError
            For a range that is backwards, empty or holds more than ``MAX_PACK_ENTRIES``
            entries, a missing signing key, or a trail that cannot be read.
        NotRecorded
            If the export could not be recorded (then no file is returned).
        """
        self._require(session, "export_evidence_pack")
        if first_day > last_day:
            raise WorkflowError(f"The range is backwards: from {first_day} is after to {last_day}.")
        since, until = day_bounds(first_day, last_day)
        try:
            count = self._audit.count(since=since, until=until)
        except AuditError as exc:
            raise WorkflowError(f"The audit trail could not be read: {exc}") from exc
        if count == 0:
            raise WorkflowError(
                f"No entries were recorded from {first_day} to {last_day} (UTC): "
                "there is nothing to pack."
            )
        if count > MAX_PACK_ENTRIES:
            raise WorkflowError(
                f"{count} entries were recorded from {first_day} to {last_day}; one evidence "
                f"pack holds at most {MAX_PACK_ENTRIES}. Choose a shorter range."
            )
        signing_key = self._server_signing_key("An evidence pack")
        try:
            entries = self._audit.entries(since=since, until=until, limit=MAX_PACK_ENTRIES)
            checkpoints = (
                read_checkpoints(self._audit.checkpoint_file)
                if self._audit.checkpoint_file is not None
                else []
            )
        except AuditError as exc:
            raise WorkflowError(f"The audit trail could not be read: {exc}") from exc
        gap = next((b for a, b in itertools.pairwise(entries) if b.seq != a.seq + 1), None)
        if gap is not None:
            raise WorkflowError(
                f"The entries of this range are not consecutive (at entry {gap.seq}): the "
                "trail's times go backwards. Run 'caselens audit verify'."
            )
        pack = build_evidence_pack(
            entries,
            first_day=first_day,
            last_day=last_day,
            checkpoints=checkpoints,
            signing_key=signing_key,
            retired_public_keys=dict(self._server_key_ring().retired),
            audit_key_ids={
                "current": key_id(self._audit_key),
                "retired": list(self._audit.retired_key_ids),
            },
            models=self._model_cards(entries),
            exported_at=utc_now(),
            caselens_version=_caselens_version(),
        )
        detail = {
            "from": first_day.isoformat(),
            "to": last_day.isoformat(),
            "entries": len(entries),
            "first_seq": entries[0].seq,
            "last_seq": entries[-1].seq,
            "pack_sha256": pack.sha256,
            "signing_key_id": signing_key.key_id,
        }
        entry = self._record(session, "evidence_exported", audience="reviewer", detail=detail)
        name = f"caselens-evidence-{first_day.isoformat()}-to-{last_day.isoformat()}.zip"
        return ExportFile(
            name, "application/zip", pack.data, len(entries), seq=entry.seq, detail=detail
        )

    def _model_cards(self, entries: list[AuditEntry]) -> list[ModelCardFiles]:
        """Every model version the entries name, with its card files when that version is
        loaded and its card on disk still states the same model file."""
        versions = {
            e.model_sha256: (e.model_id or "unknown", e.model_version)
            for e in entries
            if e.model_sha256
        }
        loaded = {b.model_sha256: b for b in self.catalogue.every_bundle()}
        out = []
        for sha, (model_id, version) in sorted(versions.items()):
            files: dict[str, bytes] = {}
            bundle = loaded.get(sha)
            if bundle is not None:
                for name in CARD_FILES:
                    path = Path(bundle.path) / name
                    try:
                        if path.is_file() and path.stat().st_size <= MAX_MANIFEST_BYTES:
                            files[name] = path.read_bytes()
                    except OSError:
                        continue
                if _card_sha(files.get("card.json")) != sha:
                    files = {}  # the card on disk no longer states this model file: left out
            out.append(ModelCardFiles(model_id, version, sha, files))
        return out
