"""From a CDS Hooks card's link to the report in the app: the card's entry, recorded through
the door by the CDS service's workflow, opens in the browser with the report as shown."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import expect

from caselens.cds import render_card
from caselens.explain.cases import FieldSource, RecordSources
from caselens.runtime import Runtime
from caselens.settings import Settings
from caselens.workflow import HookCall, InputsFromRecord

from .helpers import assert_png, go_to, shot, title

EHR = "https://ehr.example.org"


def _card(data_dir: Path, app_url: str) -> tuple[dict, int]:
    """A card recorded in the app's own trail (as `caselens serve-cds` with the same data
    folder records it), rendered with the app's URL."""
    runtime = Runtime.from_settings(Settings(data_dir=data_dir, demo=True), background=False)
    try:
        bundle = runtime.catalogue.bundles["heart-disease"]
        values = {k: v for k, v in bundle.demo_cases[2].inputs.items() if v is not None}
        call = HookCall("heart-disease", EHR, "Practitioner/7", "MRN-CDS-LINK", "hook-1")
        given = RecordSources(
            patient_id="MRN-CDS-LINK",
            case_date="2026-12-01",
            fields=tuple(
                FieldSource(feature=name, status="filled", message=f"{name}: given", value=value)
                for name, value in values.items()
            ),
        )
        decision = runtime.workflow.cds_card(call, InputsFromRecord(given))
        return render_card(decision, bundle, app_url=app_url), decision.entry_seq
    finally:
        runtime.close()


def test_the_cards_link_opens_its_entry_with_the_report_as_shown(
    data_dir, app_url, signed_in, audit_entries, screenshots
):
    card, seq = _card(data_dir, app_url)
    link = card["links"][0]  # the entry's; the owners' next-step links follow it
    assert link["type"] == "absolute" and link["url"].startswith(app_url)
    entry = next(e for e in audit_entries(action="viewed") if e.seq == seq)
    reviewer = signed_in("rev.kim")
    expect(title(reviewer, "Audit trail")).to_be_visible()
    address = urlsplit(link["url"])
    go_to(reviewer, f"{address.path}?{address.query}")
    expect(reviewer.get_by_text(f"Entry #{seq}, hash {entry.entry_hash}")).to_be_visible()
    # The viewer is the hook's userId, through the EHR (the issuer, rendered as a link).
    shown_to = re.compile(r"^As shown to Practitioner.7 \(via .*ehr\.example\.org.*\(clinician\)")
    expect(reviewer.get_by_role("heading", name=shown_to)).to_be_visible()
    number = re.search(r"\d+\.\d%", card["summary"]).group(0)
    expect(reviewer.get_by_text(number).first).to_be_visible()
    assert_png(shot(reviewer, screenshots, "cds_card_link_entry"))
