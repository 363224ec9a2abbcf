"""A model's version history and the computed diff of two versions, through the door.

Both are model facts: checked against the access policy (``view_model_versions``) and, like
reading the model's card (:meth:`AdministrationMixin.model_facts`), not recorded: nothing
about a patient is shown, and the history itself is made of recorded acts (each
registration, approval and change of state has its own entry).
"""

from __future__ import annotations

import re

from caselens.lifecycle.records import ModelVersion
from caselens.model.bundle import ModelBundle
from caselens.model.version_diff import VersionDiffError, diff_versions
from caselens.workflow._door_base import DoorBase
from caselens.workflow.errors import WorkflowError
from caselens.workflow.records import UserSession
from caselens.workflow.version_records import (
    NOT_LOADED,
    STATE_ORDER,
    VersionComparison,
    VersionHistory,
    VersionRow,
    approval_words,
)

#: Fewest characters of a version id accepted as a prefix (``caselens model diff``).
MIN_SHA_PREFIX = 4
_HEX = re.compile(r"^[0-9a-f]+$")


class VersionHistoryMixin(DoorBase):
    """The door's methods for a model's version history and the diff of two versions."""

    def model_versions(self, session: UserSession, model_id: str) -> VersionHistory:
        """Every version of ``model_id``: registered ones with their state, who registered
        them and why, their approvals and whether their folder is loaded here, then the
        folders loaded here but not registered; with the model's standing now.

        Raises
        ------
        Refused
            When the viewer may not read version histories (the refusal is recorded).
        WorkflowError
            When the model id has neither a registered version nor a loaded folder.
        """
        self._require(session, "view_model_versions")
        return self._history(model_id)

    def version_diff(
        self, session: UserSession, model_id: str, older_sha: str, newer_sha: str
    ) -> VersionComparison:
        """The computed diff of two loaded versions of ``model_id``, with the owner's stated
        reason for the newer one. A version is named by its bundle SHA-256 or a prefix of at
        least :data:`MIN_SHA_PREFIX` characters that only it starts with.

        Raises
        ------
        Refused
            When the viewer may not read version histories (the refusal is recorded).
        WorkflowError
            When a version is unknown, ambiguous, of another model, or not loaded here.
        """
        self._require(session, "view_model_versions")
        history = self._history(model_id)
        older = self._resolve(history, older_sha, "older")
        newer = self._resolve(history, newer_sha, "newer")
        older_bundle = self._loaded_version(history, older)
        newer_bundle = self._loaded_version(history, newer)
        try:
            diff = diff_versions(older_bundle, newer_bundle)
        except VersionDiffError as exc:  # unreachable through _resolve; said plainly anyway
            raise WorkflowError(str(exc)) from exc
        return VersionComparison(diff=diff, older=older, newer=newer)

    # -- helpers -------------------------------------------------------------------------------

    def _history(self, model_id: str) -> VersionHistory:
        loaded = {b.bundle_sha256: b for b in self._all_versions.all_versions(model_id)}
        registered = self._lifecycle.versions(model_id)
        if not loaded and not registered:
            raise WorkflowError(
                f"The model '{model_id}' is not available: no version of it is registered "
                "or loaded on this server."
            )
        approvals = self._lifecycle.approvals(model_id)
        now = self._clock()
        rows = [
            self._registered_row(v, loaded.get(v.bundle_sha256), approvals, now) for v in registered
        ]
        known = {v.bundle_sha256 for v in registered}
        rows += [
            VersionRow(
                model_id=model_id,
                bundle_sha256=sha,
                card_version=bundle.version,
                state="unregistered",
                registered_by=None,
                registered_at=None,
                change_reason="",
                approvals=(),
                approval=approval_words((), now),
                loaded=True,
                folder=bundle.path.name,
            )
            for sha, bundle in loaded.items()
            if sha not in known
        ]
        # Live first; within a state the newest registration first (stable for the rest).
        rows.sort(key=lambda r: -(r.registered_at.timestamp() if r.registered_at else 0.0))
        rows.sort(key=lambda r: STATE_ORDER[r.state])
        first = next(iter(loaded.values()), None)
        return VersionHistory(
            model_id=model_id,
            model_name=first.card.name if first is not None else model_id,
            versions=tuple(rows),
            standing=self.model_standing(model_id),
            as_of=now,
        )

    @staticmethod
    def _registered_row(
        version: ModelVersion, bundle: ModelBundle | None, approvals, now
    ) -> VersionRow:
        own = tuple(a for a in approvals if a.bundle_sha256 == version.bundle_sha256)
        return VersionRow(
            model_id=version.model_id,
            bundle_sha256=version.bundle_sha256,
            card_version=version.card_version,
            state=version.state,
            registered_by=version.registered_by,
            registered_at=version.registered_at,
            change_reason=version.change_reason,
            approvals=own,
            approval=approval_words(own, now),
            loaded=bundle is not None,
            folder=bundle.path.name if bundle is not None else version.folder,
        )

    def _resolve(self, history: VersionHistory, given: str, which: str) -> VersionRow:
        """The version of this model a full SHA-256 or a unique prefix names."""
        text = given.strip().lower()
        if len(text) < MIN_SHA_PREFIX or not _HEX.match(text):
            raise WorkflowError(
                f"The {which} version: expected a bundle SHA-256 or its first "
                f"{MIN_SHA_PREFIX} or more hexadecimal characters, got '{given}'."
            )
        found = [v for v in history.versions if v.bundle_sha256.startswith(text)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            listed = ", ".join(v.short_sha for v in found)
            raise WorkflowError(
                f"The {which} version '{given}' matches {len(found)} versions of "
                f"{history.model_id} ({listed}); give more characters."
            )
        other = next(
            (
                b.model_id
                for b in self._all_versions.every_bundle()
                if b.bundle_sha256.startswith(text) and b.model_id != history.model_id
            ),
            None,
        )
        if other is not None:
            raise WorkflowError(
                f"The {which} version '{given}' is a version of {other}, not of "
                f"{history.model_id}: only versions of one model can be compared."
            )
        known = ", ".join(v.short_sha for v in history.versions) or "none"
        raise WorkflowError(
            f"The {which} version '{given}' is not a version of {history.model_id} "
            f"(its versions: {known})."
        )

    def _loaded_version(self, history: VersionHistory, row: VersionRow) -> ModelBundle:
        bundle = self._all_versions.version(history.model_id, row.bundle_sha256)
        if bundle is None:
            raise WorkflowError(
                f"Version {row.card_version} ({row.short_sha}) of {history.model_id} is "
                f"{NOT_LOADED} (its bundle folder {row.folder!r} is not in the models "
                "folder), so it cannot be compared here."
            )
        return bundle
