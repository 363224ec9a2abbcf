"""A card's links: with sign-in with the EHR set up, the way into the case is a CDS Hooks
``smart`` link the EHR launches CaseLens with (its launch path); without it, the links stay
absolute (the sign-in page, the reviewer's entry)."""

from __future__ import annotations

import json

import pytest

from caselens.cds.cards import (
    ENTER_IN_APP_LABEL,
    REPORT_LINK_LABEL,
    SMART_LINK_LABEL,
    _links,
    render_card,
)
from caselens.cds.serve import config_from_settings
from caselens.fhir import LAUNCH_ROUTE
from caselens.settings import Settings
from caselens.workflow import CardDecision

APP = "https://caselens.example.org/"


def test_a_missing_inputs_card_launches_the_case_through_the_ehr_when_smart_is_set_up(
    heart_bundle,
):
    decision = CardDecision("inputs_missing", "heart-disease", 7, missing=(("Age", "none"),))
    with_smart = render_card(decision, heart_bundle, app_url=APP, smart_launch=True)
    assert with_smart["links"] == [
        {"label": ENTER_IN_APP_LABEL, "url": APP.rstrip("/") + LAUNCH_ROUTE, "type": "smart"}
    ]
    without = render_card(decision, heart_bundle, app_url=APP)
    assert without["links"] == [{"label": ENTER_IN_APP_LABEL, "url": APP, "type": "absolute"}]
    assert "links" not in render_card(decision, heart_bundle, app_url=None, smart_launch=True)


def test_a_prediction_cards_first_link_is_the_launch_and_the_reviewers_entry_stays():
    decision = CardDecision("prediction", "heart-disease", 12)
    launch, entry = _links(decision, APP, smart_launch=True)
    assert launch == {
        "label": SMART_LINK_LABEL,
        "url": "https://caselens.example.org/_caselens/launch",
        "type": "smart",
    }
    assert entry["type"] == "absolute" and entry["label"] == REPORT_LINK_LABEL.format(seq=12)
    assert _links(decision, APP) == [entry]
    assert _links(CardDecision("model_suspended", "heart-disease", 3), APP, smart_launch=True) == []


@pytest.mark.parametrize("whole", [True, False])
def test_the_service_makes_smart_links_only_when_the_apps_smart_settings_are_whole(tmp_path, whole):
    issuers = tmp_path / "issuers.json"
    issuers.write_text(json.dumps({"issuers": []}), encoding="utf-8")
    users = tmp_path / "users.json"
    users.write_text(json.dumps({"Practitioner/1": "dr.lee"}), encoding="utf-8")
    env = {
        "CASELENS_CDS_URL": "https://cds.example.org",
        "CASELENS_CDS_ISSUERS": str(issuers),
        "CASELENS_APP_URL": APP,
        "CASELENS_SMART_CLIENT_ID": "caselens",
        "CASELENS_SMART_ISSUER": "https://ehr.example.org/fhir",
        "CASELENS_SMART_AUTHORIZE_URL": "https://ehr.example.org/auth",
        "CASELENS_SMART_TOKEN_URL": "https://ehr.example.org/token" if whole else "",
        "CASELENS_SMART_JWKS_FILE": str(tmp_path / "ehr.jwks"),
        "CASELENS_SMART_USERS_FILE": str(users),
    }
    assert config_from_settings(Settings.from_environment(env)).smart_launch is whole
