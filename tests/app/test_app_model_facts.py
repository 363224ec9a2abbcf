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
