"""The Versions section's texts: every registration and approval text is data, escaped.

A model owner's stated reason, an approver's name, a scope and an evidence summary are typed
by people (or come from a bundle's card): they reach Streamlit's Markdown only through
``literal``, and the table's rows carry them as plain cell text.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "app"))

from app_helpers import PAYLOAD, PAYLOADS
from caselens.lifecycle.records import Approval, EvidenceItem
from caselens.workflow.version_records import VersionRow
from components.text import unliteral
from components.version_history import version_details

WHEN = dt.datetime(2026, 12, 7, 9, 0)


def _row() -> VersionRow:
    approval = Approval(
        approval_id="A-0123456789ab",
        model_id="heart-disease",
        bundle_sha256="ab" * 32,
        approved_by=f"admin {PAYLOADS[0]}",
        approver_role="admin",
        approved_at=WHEN,
        expires_at=WHEN + dt.timedelta(days=90),
        intended_use=f"Scope {PAYLOAD}",
        population=f"Population {PAYLOADS[6]}",
        evidence=(EvidenceItem("validation", f"entry 7 {PAYLOADS[7]}", PAYLOADS[1], WHEN),),
    )
    return VersionRow(
        model_id="heart-disease",
        bundle_sha256="ab" * 32,
        card_version="2.0.0",
        state="candidate",
        registered_by="owner.ng",
        registered_at=WHEN,
        change_reason=f"Retrained. {PAYLOAD}",
        approvals=(approval,),
        approval="approved by admin until 2027-03-07",
        loaded=True,
        folder="heart-disease-v2",
    )


def test_a_hostile_reason_and_approval_are_shown_as_the_characters_they_are():
    markdown = version_details(_row())
    for payload in PAYLOADS:
        assert payload not in markdown  # every one escaped on its way to Markdown
    readable = unliteral(markdown)
    assert f"Reason: Retrained. {PAYLOAD}" in readable
    assert f"Approved by admin {PAYLOADS[0]} (admin) on 2026-12-07, until 2027-03-07" in readable
    assert PAYLOADS[1] in readable and f"entry 7 {PAYLOADS[7]}" in readable
