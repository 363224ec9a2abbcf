"""Test helper: a workflow's models with their first versions live and approved.

A workflow built by hand (not in demo mode) starts with no approved version, so every
prediction is refused, as in a deployment before its first approval. Tests that are about
something else approve each model's first version here, directly in the store (no audit
entry, so tests counting the trail's entries are unaffected).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt

from caselens.lifecycle.seed import seed_first_versions
from caselens.lifecycle.store import new_approval_id

#: Who the seeded versions name (the demo model owner registers, the demo admin approves).
SEEDED_BY = "owner.ng"
SEEDED_APPROVER = "admin"


def approve_first_versions(workflow, *, days: int = 365, now: dt.datetime | None = None):
    """Register and approve the first version of every model id the workflow offers."""
    return seed_first_versions(
        workflow.lifecycle,
        workflow.catalogue.bundles.values(),
        registered_by=SEEDED_BY,
        approved_by=SEEDED_APPROVER,
        days=days,
        now=now,
        reason="Seeded by the test fixture.",
    )


@contextlib.contextmanager
def approval_ended(workflow, model_id: str):
    """The live version's approvals ended (as by a retirement) for the block, then a fresh
    approval like the last one, so a module-scoped workflow serves the next test again."""
    live = workflow.model_standing(model_id).live
    last = workflow.lifecycle.approvals(model_id, live.bundle_sha256)[-1]
    workflow.lifecycle.revoke_approvals(model_id, live.bundle_sha256)
    try:
        yield
    finally:
        workflow.lifecycle.add_approval(
            dataclasses.replace(last, approval_id=new_approval_id(), revoked_at=None)
        )
