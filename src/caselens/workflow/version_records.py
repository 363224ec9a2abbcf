"""What the door hands back about a model's versions: the history and the comparison of two.

Frozen records with the words a page or a command prints (state in words, an approval as
"approved by X until DATE" or "expired on DATE"), so the app and the CLI say the same thing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from caselens.lifecycle.records import Approval, Standing
from caselens.model.version_diff import VersionDiff

#: A row's state: a registered version's lifecycle state, or a bundle folder of this model
#: id that is loaded on this server but not registered yet.
RowState = Literal["live", "shadow", "candidate", "retired", "unregistered"]

#: Each state in words, as the history shows it.
STATE_WORDS: dict[str, str] = {
    "live": "Live",
    "shadow": "Shadow (scored beside the live version, never shown)",
    "candidate": "Candidate",
    "retired": "Retired",
    "unregistered": "Loaded, not registered",
}
#: The order of the history: the live version first, then shadow, candidates, retired,
#: and last the folders loaded but not registered.
STATE_ORDER: dict[str, int] = {
    "live": 0,
    "shadow": 1,
    "candidate": 2,
    "retired": 3,
    "unregistered": 4,
}
#: What the approval column says when a version has none.
NO_APPROVAL = "no approval"
#: What the loaded column says of a registered version whose folder is not on this server.
NOT_LOADED = "not loaded on this server"


def _day(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%d}"


def approval_words(approvals: tuple[Approval, ...], now: dt.datetime) -> str:
    """A version's approval standing in one phrase, from its approvals (all of one version).

    The approval in force that lasts longest wins ("approved by admin until 2027-12-07");
    without one, the most recent approval says how it ended ("expired on 2026-11-30",
    "ended on 2026-11-02"); with none at all, :data:`NO_APPROVAL`.
    """
    valid = [a for a in approvals if a.valid_at(now)]
    if valid:
        best = max(valid, key=lambda a: a.expires_at)
        return f"approved by {best.approved_by} until {_day(best.expires_at)}"
    if not approvals:
        return NO_APPROVAL
    last = max(approvals, key=lambda a: (a.approved_at, a.expires_at))
    if last.revoked_at is not None:
        return f"approval by {last.approved_by} ended on {_day(last.revoked_at)}"
    if last.approved_at > now:
        return f"approved by {last.approved_by} from {_day(last.approved_at)}"
    return f"expired on {_day(last.expires_at)} (approved by {last.approved_by})"


@dataclass(frozen=True)
class VersionRow:
    """One version in a model's history.

    Attributes
    ----------
    model_id : str
    bundle_sha256 : str
        The version id.
    card_version : str
        The card's own version label.
    state : RowState
    registered_by : str or None
        Who registered it (None for a folder loaded but not registered).
    registered_at : datetime or None
        When (UTC).
    change_reason : str
        The owner's stated reason for the change ('' when not registered).
    approvals : tuple of Approval
        Every approval of this version, oldest first (with its evidence, expiry, revocation).
    approval : str
        The approval standing in words (:func:`approval_words`).
    loaded : bool
        Whether its bundle folder is loaded on this server (only a loaded version can be
        compared or predict here).
    folder : str
        The bundle folder's name (as registered, or as loaded).
    """

    model_id: str
    bundle_sha256: str
    card_version: str
    state: RowState
    registered_by: str | None
    registered_at: dt.datetime | None
    change_reason: str
    approvals: tuple[Approval, ...]
    approval: str
    loaded: bool
    folder: str

    @property
    def short_sha(self) -> str:
        """The first 12 characters of the version id, as people quote it."""
        return self.bundle_sha256[:12]

    @property
    def state_words(self) -> str:
        """The state as the history shows it."""
        return STATE_WORDS[self.state]

    @property
    def label(self) -> str:
        """How a version is named in a list: ``1.1.0 (3f2a9c0d1e2b) — Candidate``."""
        return f"{self.card_version} ({self.short_sha}) — {self.state_words}"


@dataclass(frozen=True)
class VersionHistory:
    """Every version of one model id, live first, and where the model stands now.

    Attributes
    ----------
    model_id, model_name : str
    versions : tuple of VersionRow
        In :data:`STATE_ORDER`, newest registration first within a state; folders loaded but
        not registered last.
    standing : Standing
        Whether the model may show predictions now, and the words when it may not.
    as_of : datetime
        The moment (UTC) the approvals were judged at.
    """

    model_id: str
    model_name: str
    versions: tuple[VersionRow, ...]
    standing: Standing
    as_of: dt.datetime

    @property
    def comparable(self) -> tuple[VersionRow, ...]:
        """The versions loaded on this server (only they can be compared)."""
        return tuple(v for v in self.versions if v.loaded)

    def default_pair(self) -> tuple[VersionRow, VersionRow] | None:
        """The pair the comparison opens on: the live version (older side) and the most
        recently registered other loaded version; None when fewer than two are loaded.
        Without a loaded live version, the two most recently registered loaded ones."""
        loaded = self.comparable
        if len(loaded) < 2:
            return None
        live = next((v for v in loaded if v.state == "live"), None)
        others = sorted(
            (v for v in loaded if v is not live),
            key=lambda v: (v.registered_at is not None, v.registered_at or dt.datetime.min),
            reverse=True,
        )
        if live is not None:
            return live, others[0]
        return others[1], others[0]


@dataclass(frozen=True)
class VersionComparison:
    """The computed diff of two versions, with what their owners said.

    Attributes
    ----------
    diff : VersionDiff
        Every difference, section by section (:func:`caselens.model.version_diff.diff_versions`).
    older, newer : VersionRow
        The two versions as the history lists them (``newer_reason`` is the newer one's
        stated reason for the change).
    """

    diff: VersionDiff
    older: VersionRow
    newer: VersionRow

    @property
    def newer_reason(self) -> str:
        """The owner's stated reason for the newer version ('' when not registered)."""
        return self.newer.change_reason
