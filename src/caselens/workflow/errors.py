"""Why a display or action did not happen: the errors the door raises, with the words to show."""

from __future__ import annotations

from caselens.errors import CaseLensError


class WorkflowError(CaseLensError):
    """A display or action did not happen; the message is what the person is shown."""


class Refused(WorkflowError):
    """The access policy or the model's status refused it (the refusal is recorded)."""


class Unavailable(WorkflowError):
    """The result cannot be given right now (model paused, record missing): said gently."""


class NotRecorded(WorkflowError):
    """The audit trail could not take the entry, so nothing is shown or done."""


class EntryFailsVerification(WorkflowError):
    """A replayed entry does not verify: its report is not shown."""
