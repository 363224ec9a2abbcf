"""What-if editing: a clinician changes values of a report they were shown and sees what the
model would say, recorded as a hypothetical display before it is returned.

A what-if is not a prediction about the patient: it is recorded under its own action
(:data:`WHAT_IF_ACTION`, not a monitoring display, so it writes no prediction-log row and
never counts as the patient's result), linked to the entry that displayed its parent, with
every changed value from → to. It is refused to patients by the policy (and, as any
hypothetical report, by the door's patient paths). A chain of edits is a chain of reports,
each recorded, each naming the one before it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from caselens.audit.replay import Replay
from caselens.explain.cases import Case, ChangedValue, Hypothetical, validate_inputs
from caselens.explain.report import CaseReport
from caselens.explain.what_if_diff import WhatIfDiff, what_if_diff
from caselens.model.budget import ModelBudgetError
from caselens.model.features import FeatureSchema
from caselens.model.output_check import ModelOutputError
from caselens.workflow._door_base import DoorBase
from caselens.workflow.errors import Refused, WorkflowError
from caselens.workflow.records import UserSession

#: The trail's action for a what-if display (not in the monitoring DISPLAY_ACTIONS: a
#: what-if is not a prediction about the patient).
WHAT_IF_ACTION = "what_if_viewed"
#: The case source a what-if report carries.
WHAT_IF_SOURCE = "what_if"
#: What a clinician reads when the edited values are exactly the parent's.
NOTHING_CHANGED = (
    "No value was changed: the values are exactly those of the report shown, so there is "
    "no what-if to show and nothing was recorded. Change at least one value."
)
#: Longest model refusal reason kept in the trail (as for any report).
MAX_REASON_CHARS = 1000


@dataclass(frozen=True)
class WhatIfView:
    """A what-if report beside its parent, as recorded.

    Attributes
    ----------
    parent : CaseReport
        The report that was edited (the patient's recorded values, or an earlier what-if).
    report : CaseReport
        The what-if report; ``report.case.hypothetical`` names the parent and the changes.
    diff : WhatIfDiff
        Before → after: probability and range, side of the threshold, contributions
        (largest change first), limitations that appeared or went away, the changes.
    entry : int
        The trail entry that recorded the what-if display.
    """

    parent: CaseReport
    report: CaseReport
    diff: WhatIfDiff
    entry: int


def _same(before: Any, after: Any) -> bool:
    """Whether two input values are the same value (not recorded equals not recorded)."""

    def missing(value: Any) -> bool:
        return value is None or (isinstance(value, float) and math.isnan(value))

    if missing(before) or missing(after):
        return missing(before) and missing(after)
    if isinstance(before, str) or isinstance(after, str):
        return before == after
    return float(before) == float(after)


def changed_values(
    parent: CaseReport, case: Case, schema: FeatureSchema
) -> tuple[ChangedValue, ...]:
    """Every input whose value in ``case`` differs from the parent report's, in schema order,
    each with the schema's words for both values."""
    before = parent.case.values()
    out = []
    for feature in schema:
        old, new = before.get(feature.name), case.values.get(feature.name)
        if _same(old, new):
            continue
        out.append(
            ChangedValue(
                name=feature.name,
                label=feature.label,
                from_value=old,
                from_text=feature.describe_value(old),
                to_value=new,
                to_text=feature.describe_value(new),
            )
        )
    return tuple(out)


def _change_detail(changes: tuple[ChangedValue, ...]) -> list[dict[str, Any]]:
    return [
        {
            "name": c.name,
            "from": c.from_value,
            "to": c.to_value,
            "from_text": c.from_text,
            "to_text": c.to_text,
        }
        for c in changes
    ]


class WhatIfMixin(DoorBase):
    """The door's what-if methods (see the module notes)."""

    def show_what_if(
        self, session: UserSession, parent: CaseReport, values: Mapping[str, Any]
    ) -> WhatIfView:
        """The report of ``parent``'s case with ``values`` instead: checked, recorded, returned.

        Parameters
        ----------
        parent : CaseReport
            A report shown to this viewer in this session (the patient's, or a what-if).
        values : mapping
            Every input as the clinician left it (field name → raw value, as a form gives).

        Raises
        ------
        Refused
            For a viewer who may not explore hypotheticals (recorded), or a suspended model.
        CaseValidationError
            Listing every field whose edited value is refused (nothing recorded).
        WorkflowError
            When nothing changed, the parent was not shown in this session, or the model
            version behind the parent is no longer the one loaded (nothing recorded).
        """
        self._require(session, "explore_hypothetical")
        model_id = parent.model.model_id
        bundle = self._active_bundle(model_id)
        if bundle.model_sha256 != parent.model.sha256:
            raise WorkflowError(
                f"The report was made by {model_id} {parent.model.version}, which is no longer "
                "the version loaded; open the case again to change a value."
            )
        parent_entry = session.display_entries.get(parent.report_id)
        if parent_entry is None:
            raise WorkflowError(
                "A value can be changed only on a report shown to you in this session "
                f"(report {parent.report_id[:12]} is not); open the case again."
            )
        case = validate_inputs(
            values, bundle.features, source=WHAT_IF_SOURCE, case_id=parent.case.case_id
        )
        changes = changed_values(parent, case, bundle.features)
        if not changes:
            raise WorkflowError(NOTHING_CHANGED)
        case = dataclasses.replace(
            case,
            hypothetical=Hypothetical(
                kind="what_if",
                parent_report_id=parent.report_id,
                parent_entry=parent_entry,
                changes=changes,
            ),
        )
        report = self._explain_what_if(session, model_id, case)
        detail = {
            "model_id": model_id,
            "parent_report_id": parent.report_id,
            "parent_entry": parent_entry,
            "changes": _change_detail(changes),
        }
        self._record_display(
            session, report, audience="clinician", action=WHAT_IF_ACTION, detail=detail
        )
        entry = session.display_entries[report.report_id]
        return WhatIfView(parent, report, what_if_diff(parent, report), entry)

    def _explain_what_if(self, session: UserSession, model_id: str, case: Case) -> CaseReport:
        """The same explainer as any case; a model answer that is not usable is refused and
        the refusal recorded (as for the patient's own report)."""
        try:
            return self._live_explainer(model_id).explain(case)
        except (ModelOutputError, ModelBudgetError) as exc:
            reason = str(exc)[:MAX_REASON_CHARS]
            self._record(
                session,
                "report_refused",
                audience="clinician",
                patient_ref=case.case_id,
                detail={
                    "model_id": model_id,
                    "reason": reason,
                    "kind": type(exc).__name__,
                    "hypothetical": "what_if",
                },
            )
            raise Refused(
                f"No what-if report: the model {model_id} gave no usable answer for the "
                f"changed values ({getattr(exc, 'short', None) or reason}). Nothing is shown; "
                "the refusal is recorded in the audit trail."
            ) from exc

    def replay_what_if(self, session: UserSession, seq: int) -> WhatIfView:
        """A recorded what-if beside its parent, for the reviewer: both entries verified and
        their replays recorded (:meth:`replay`) before the comparison is returned.

        Raises
        ------
        WorkflowError
            When the entry is not a what-if, names no parent entry, or its parent entry
            does not hold the report it names.
        """
        replay: Replay = self.replay(session, seq)  # type: ignore[attr-defined]
        hypothetical = replay.report.case.hypothetical
        if hypothetical is None or hypothetical.kind != "what_if":
            raise WorkflowError(f"Entry #{seq} is not a what-if display.")
        if hypothetical.parent_entry is None:
            raise WorkflowError(
                f"Entry #{seq} does not name the entry of its parent report, so the "
                "comparison cannot be drawn; its changes are listed with the report."
            )
        parent: Replay = self.replay(session, hypothetical.parent_entry)  # type: ignore[attr-defined]
        if parent.report.report_id != hypothetical.parent_report_id:
            raise WorkflowError(
                f"Entry #{hypothetical.parent_entry} does not hold report "
                f"{hypothetical.parent_report_id[:12]}, which entry #{seq} names as its "
                "parent; the comparison is not drawn."
            )
        return WhatIfView(
            parent.report, replay.report, what_if_diff(parent.report, replay.report), seq
        )
