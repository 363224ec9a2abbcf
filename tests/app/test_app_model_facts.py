"""The Model facts page renders each card, with the HTI-1 attributes and the CHAI export."""

from __future__ import annotations

import pytest

from app_helpers import signed_in

pytestmark = pytest.mark.usefixtures("app_env")


def test_model_facts_page_shows_the_label_sections_and_hti1_table(heart_bundle):
    at = signed_in("dr.lee")
    at.switch_page("app_pages/model_facts.py").run()
    assert not at.exception
    headers = [h.value for h in at.subheader]
    for section in (
        "Summary",
        "Warnings",
        "Mechanism",
        "Validation and performance",
        "Uses and directions",
        "Other information",
    ):
        assert section in headers
    assert any(e.label == "All 31 HTI-1 source attributes" for e in at.expander)
    tables = at.dataframe
    assert any(len(t.value) == 31 for t in tables)
    # Subgroups: each figure with its interval, the intersection left out said in words,
    # and the largest gaps with their bootstrap interval.
    groups = next(t.value for t in tables if "Group" in t.value.columns)
    assert set(groups["Group"]) == {"55 and over", "under 55", "Female", "Male"}
    assert all(" (" in cell and "–" in cell for cell in groups["Sensitivity"])
    text = " ".join(m.value for m in at.markdown).replace("\\", "")
    assert "Age × Sex: not shown, 1 of its 4 groups has fewer than 10 patients" in text
    gaps = next(t.value for t in tables if "Measure" in t.value.columns)
    assert list(gaps["Measure"]) == ["AUROC", "Sensitivity"] * 2


def test_model_facts_says_who_signed_the_bundle_with_which_key():
    # Demo mode (app_env): the samples are signed by the demo publisher key, trusted here.
    from caselens.audit.signing_keys import read_public_key, signing_key_id
    from caselens.settings import DEMO_PUBLISHER_KEY

    at = signed_in("dr.lee")
    at.switch_page("app_pages/model_facts.py").run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown).replace("\\", "")
    key_id = signing_key_id(read_public_key(DEMO_PUBLISHER_KEY))
    assert "Publisher:** CaseLens demo publisher" in text
    assert key_id in text and "Signature:** verified: every file matches" in text
    assert any("trusted in demo mode only" in c.value for c in at.caption)
