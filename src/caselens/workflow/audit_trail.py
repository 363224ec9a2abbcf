"""The audit trail: paging, searching, verifying, replaying and exporting it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from caselens.audit import AuditEntry, AuditError, VerifyResult, to_bundle, to_csv
from caselens.audit.chain import pseudonym
from caselens.audit.replay import Replay, Rerun, replay_entry, rerun_entry
from caselens.errors import CaseLensError
from caselens.explain.report import CaseReport
from caselens.workflow._door_base import DoorBase
from caselens.workflow.errors import EntryFailsVerification, WorkflowError
from caselens.workflow.records import AuditChoices, AuditPage, ExportFile, TrailMatch, UserSession

#: Entries on one page of the audit trail.
AUDIT_PAGE_SIZE = 50


ExportFormat = Literal["fhir", "csv"]


class AuditTrailMixin(DoorBase):
    """The audit trail: paging, searching, verifying, replaying and exporting it."""

    def audit_page(
        self,
        session: UserSession,
        *,
        filters: Mapping[str, Any],
        before_seq: int | None = None,
        limit: int = AUDIT_PAGE_SIZE,
    ) -> AuditPage:
        """One page of the trail, filtered and paged in the database (newest first)."""
        self._require(session, "view_audit_trail")
        active = {k: v for k, v in filters.items() if v not in (None, "")}
        entries = self._audit.page(before_seq=before_seq, limit=limit, **active)
        total = self._audit.count(**active)
        following = entries[-1].seq if len(entries) == limit else None
        return AuditPage(tuple(entries), total, following)

    def audit_choices(self, session: UserSession) -> AuditChoices:
        """The actions and models recorded in the trail (and the offered models), and the
        actor roles, for the reviewer's filters."""
        from caselens.workflow.trail_search import ACTOR_ROLES, trail_actions, trail_models

        self._require(session, "view_audit_trail")
        try:
            actions = trail_actions(self._audit.engine)
            models = set(trail_models(self._audit.engine)) | set(self.catalogue.bundles)
        except Exception as exc:  # a database that cannot be read: said, never a traceback
            raise WorkflowError(f"The audit trail could not be read: {exc}") from exc
        return AuditChoices(actions, tuple(sorted(models)), ACTOR_ROLES)

    def find_in_trail(self, session: UserSession, typed: str) -> TrailMatch:
        """The entry with this number, or the displays of the report with this id (or its
        first 8+ characters), newest first. Nothing is recorded: finding is reading."""
        from caselens.workflow.trail_search import displays_of_report, parse_query

        self._require(session, "view_audit_trail")
        try:
            query = parse_query(typed)
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        if query.entry is not None:
            try:
                self._audit.get(query.entry)
                return TrailMatch((query.entry,), "entry", f"#{query.entry}")
            except AuditError as exc:
                if query.report_prefix is None:
                    raise WorkflowError(f"There is no entry #{query.entry} in the trail.") from exc
        assert query.report_prefix is not None
        seqs = displays_of_report(self._audit.engine, query.report_prefix)
        if not seqs:
            raise WorkflowError(
                f"No entry #{query.report_prefix} and no display of a report whose id starts "
                f"with '{query.report_prefix}' is in the trail."
                if query.entry is not None
                else f"No display of a report whose id starts with '{query.report_prefix}' is "
                "in the trail."
            )
        return TrailMatch(seqs, "report", query.report_prefix)

    def audit_entry(self, session: UserSession, seq: int) -> AuditEntry:
        """One entry, verified (hash, signature, links) before it is returned, for the
        reviewer to read (an entry that displayed a report is opened with :meth:`replay`)."""
        self._require(session, "view_audit_trail")
        return self._verified_entry(seq)

    def _verified_entry(self, seq: int) -> AuditEntry:
        try:
            entry = self._audit.get(seq)
            problem = self._audit.entry_problem(seq)
        except AuditError as exc:
            raise WorkflowError(str(exc)) from exc
        if problem is not None:
            raise EntryFailsVerification(f"This entry fails verification: {problem}.")
        return entry

    def replay(self, session: UserSession, seq: int) -> Replay:
        """A past display, verified (hash, signature, links) and recorded before it returns."""
        self._require(session, "replay_entry")
        entry = self._verified_entry(seq)
        try:
            replay = replay_entry(entry)
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        viewer = self._viewer(session)
        key = (viewer.user_id, session.session_id, f"entry:{seq}", "reviewer", "replayed")
        if key not in session.recorded:
            self._record(
                session,
                "replayed",
                audience="reviewer",
                report=replay.report,
                detail={"seq": seq, "entry_hash": entry.entry_hash},
            )
            session.recorded.add(key)
        return replay

    def replayed_model_warnings(
        self, session: UserSession, report: CaseReport
    ) -> tuple[str, ...] | None:
        """Where the card of the model version behind a replayed report (the loaded bundle
        with its model file's SHA-256) fails its checks, for the same banner the Case page
        draws; None when that version is no longer loaded, so its card cannot be checked."""
        self._require(session, "replay_entry")
        match = self.catalogue.producer(report.model.sha256, report.model.bundle_sha256)
        return None if match is None else tuple(match.card_problems)

    def rerun(self, session: UserSession, seq: int) -> Rerun:
        """Recompute a past display and compare; the outcome is recorded before it returns."""
        self._require(session, "replay_entry")
        entry = self._verified_entry(seq)
        try:
            rerun = rerun_entry(entry, self.catalogue.every_bundle())
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        self._record(
            session,
            "rerun",
            audience="reviewer",
            report=replay_entry(entry).report,
            detail={"seq": seq, **rerun.record_detail()},
        )
        return rerun

    def verify_trail(self, session: UserSession) -> VerifyResult:
        """Walk the whole trail; the verification and its result are recorded."""
        self._require(session, "verify_trail")
        result = self._audit.verify()
        self._record(
            session,
            "verified",
            audience="reviewer",
            detail={"ok": result.ok, "count": result.count, "head": result.head_hash},
        )
        return result

    def export_trail(
        self,
        session: UserSession,
        fmt: ExportFormat,
        *,
        filters: Mapping[str, Any],
        pseudonymise: bool = True,
    ) -> ExportFile:
        """Record the export, then build it (FHIR R4 AuditEvent Bundle or CSV)."""
        self._require(session, "export_trail")
        if fmt not in ("fhir", "csv"):
            raise WorkflowError(f"Export format: expected 'fhir' or 'csv', got '{fmt}'.")
        active = {k: v for k, v in filters.items() if v not in (None, "")}
        # At most ``limit`` entries (``caselens audit export --limit``): the count says so too.
        limit = active.pop("limit", None)
        count = self._audit.count(**active)
        if limit is not None:
            count = min(count, int(limit))
        entry = self._record(
            session,
            "exported",
            audience="reviewer",
            detail={
                "format": fmt,
                "entries": count,
                "pseudonymised": pseudonymise,
                "filters": {
                    k: str(v) for k, v in {**active, "limit": limit}.items() if v is not None
                },
            },
        )
        key = self._audit_key if pseudonymise else None
        entries = self._audit.iter_entries(**active, limit=limit)
        if fmt == "fhir":
            data = json.dumps(to_bundle(entries, pseudonymise_key=key), indent=1).encode()
            return ExportFile(
                "caselens-audit.fhir.json", "application/fhir+json", data, count, seq=entry.seq
            )
        data = to_csv(entries, pseudonymise_key=key).encode()
        return ExportFile("caselens-audit.csv", "text/csv", data, count, seq=entry.seq)

    def patient_pseudonym(self, patient_ref: str) -> str:
        """The keyed pseudonym an export uses for this patient reference."""
        return pseudonym(patient_ref, key=self._audit_key)
