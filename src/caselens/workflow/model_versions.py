"""Model versions through the door: the version history, the diff of two versions,
registering a version, approvals that expire, shadow candidates and retirement (issue 27).

Decision rights: a **model owner** registers a version (with the reason for the change),
sets a candidate to shadow and retires versions; a version goes live only through an
approval by a model owner or an **administrator** who did not register it, with a scope,
the evidence it rests on and an expiry date. Every act is recorded before it is done.
"""

from __future__ import annotations

from caselens.access.policy import Viewer
from caselens.lifecycle.records import Standing
from caselens.lifecycle.seed import first_version, unregistered, write_first_version
from caselens.workflow._door_base import DoorBase
from caselens.workflow.records import UserSession

#: The demo accounts that register and approve the samples' first versions in demo mode.
DEMO_REGISTRAR = "owner.ng"
DEMO_APPROVER = "admin"
#: How long the demo approvals last.
DEMO_APPROVAL_DAYS = 365
#: Who the trail names for the lifecycle's own acts (demo seeding, an approval's expiry).
LIFECYCLE_SYSTEM = Viewer("lifecycle", "caselens model lifecycle", "system")


class ModelVersionsMixin(DoorBase):
    """The door's methods for the model lifecycle."""

    def seed_demo_versions(self) -> list[Standing]:
        """Demo mode: each model id with no registered version gets its first version
        registered (as by the demo model owner) and approved (as by the demo administrator)
        for a year, recorded first as one system entry per model. Nothing is written for a
        model id that already has versions."""
        session = UserSession(viewer=LIFECYCLE_SYSTEM)
        now = self._clock()
        out = []
        for bundle in unregistered(self._lifecycle, self._all_versions.bundles.values()):
            first = first_version(
                bundle,
                registered_by=DEMO_REGISTRAR,
                approved_by=DEMO_APPROVER,
                approver_role="admin",
                now=now,
                days=DEMO_APPROVAL_DAYS,
                reason="The sample model shipped with CaseLens (demo mode).",
            )
            detail = {
                "model_id": bundle.model_id,
                "bundle_sha256": bundle.bundle_sha256,
                "card_version": bundle.version,
                "registered_by": DEMO_REGISTRAR,
                "approved_by": DEMO_APPROVER,
                "approval_id": first.approval.approval_id,
                "expires_at": first.approval.expires_at.isoformat(timespec="seconds") + "Z",
                "demo": True,
            }
            self._record(session, "model_version_seeded", audience="system", detail=detail)
            write_first_version(self._lifecycle, first)
            out.append(self.model_standing(bundle.model_id))
        return out
