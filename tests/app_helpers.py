"""Helpers for the AppTest suites: run the real app script against a temporary data folder."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

from streamlit.testing.v1 import AppTest

from caselens.access.accounts import DEMO_PASSWORD
from caselens.audit import AuditStore, default_key_file, default_location, load_key
from caselens.settings import SAMPLE_MODELS_DIR

APP_DIR = Path(__file__).resolve().parents[1] / "app"
APP = str(APP_DIR / "streamlit_app.py")
sys.path.insert(0, str(APP_DIR))

from components.text import unliteral  # noqa: E402  (the app's folder, added just above)


def open_app(*, timeout: float = 180) -> AppTest:
    """The app, run once: the sign-in page."""
    return AppTest.from_file(APP, default_timeout=timeout).run()


def signed_in(user_id: str, *, password: str = DEMO_PASSWORD, timeout: float = 180) -> AppTest:
    """The app after signing in as a (demo) user; lands on that role's first page."""
    at = open_app(timeout=timeout)
    at.text_input(key="sign_in_user").input(user_id)
    at.text_input(key="sign_in_password").input(password)
    return at.button[0].click().run()


def audit_entries() -> list:
    """Every entry in the trail the app is writing to (per the current environment)."""
    with AuditStore.open(default_location(), key=load_key(default_key_file())) as store:
        return store.entries()


def shown(elements: Iterable) -> str:
    """The text of Markdown elements (markdown, caption, error, warning, info…) as a reader
    sees it: the app writes data through ``components.text.literal``, whose escapes are
    resolved here. Our own formatting (``**``, ``- ``) is left as it is."""
    return " ".join(unliteral(e.value) for e in elements)


# Injection payloads (script, image, iframe, style, refresh, form, Markdown link and image)
# for the hostile-bundle tests, AppTest and browser alike.
PAYLOADS = (
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    '<iframe srcdoc="<script>parent.__pwned=1</script>">',
    "<style>body{display:none}</style>",
    '<meta http-equiv="refresh" content="0;url=about:blank">',
    "<form><input type=password name=pw></form>",
    "[click](javascript:alert(1))",
    "![x](http://127.0.0.1:9/x.png)",
)
PAYLOAD = " ".join(PAYLOADS)


#: The payloads that fit a 300-character card text beside a few words of it.
SHORT_PAYLOAD = " ".join(PAYLOADS[i] for i in (0, 1, 6, 7))
#: An https link that tries to end its Markdown link and add a script and another link.
HOSTILE_LINK = "https://example.org/a)<script>window.__pwned=1</script>[x](javascript:alert(1))"


def hostile(text: str) -> str:
    """``text`` followed by every payload."""
    return f"{text} {PAYLOAD}"


#: A display name carrying payloads (script, image, Markdown link and image) within the
#: 200 characters an account name may have.
HOSTILE_PERSON = " ".join(("Dr. Evil", PAYLOADS[0], PAYLOADS[1], PAYLOADS[6], PAYLOADS[7]))


def build_hostile_bundle(models_dir: Path) -> Path:
    """A copy of the sample heart-disease bundle with payloads in every text that reaches a
    page (the card is not covered by the model hash, so the bundle still loads)."""
    folder = models_dir / "heart-disease"
    shutil.copytree(SAMPLE_MODELS_DIR / "heart-disease", folder)

    card_file = folder / "card.json"
    card = json.loads(card_file.read_text(encoding="utf-8"))
    for key in (
        "name",
        "summary",
        "intended_use",
        "intended_users",
        "target_population",
        "model_type",
        "owner",
        "contact",
        "threshold_rationale",
    ):
        card[key] = hostile(card[key])
    card["out_of_scope_uses"] = [*card["out_of_scope_uses"], PAYLOAD]
    card["known_failure_modes"] = [*card["known_failure_modes"], PAYLOAD]
    card["outcome"]["name"] = hostile(card["outcome"]["name"])
    card["outcome"]["definition"] = hostile(card["outcome"]["definition"])
    card["outcome"]["time_window"] = hostile(card["outcome"]["time_window"])
    card["outcome"]["patient_wording"] = hostile(card["outcome"]["patient_wording"])
    card["training_data"]["under_represented"] = hostile(card["training_data"]["under_represented"])
    card["training_data"]["citation"] = hostile(card["training_data"]["citation"])
    card["calibration"]["rationale"] = hostile(card["calibration"]["rationale"])
    for texts in card.get("patient_texts", {}).values():  # the patient's words, every language
        texts["outcome"] = hostile(texts["outcome"])
        texts["questions"] = [hostile(q) for q in texts["questions"]]
        for words in texts["inputs"].values():
            words["label"] = hostile(words["label"])
            words["values"] = {k: hostile(v) for k, v in words["values"].items()}
    # The owners' next steps (at most 300 characters a text): payloads in every text, and a
    # link that is https but tries to close the Markdown link and open a script.
    for steps in (
        card["next_steps"]["at_or_above_threshold"],
        card["next_steps"]["below_threshold"],
    ):
        for step in steps:
            for key in ("text", "source", "patient_text"):
                step[key] = f"{step[key][:60]} {SHORT_PAYLOAD}"
            step["link"] = HOSTILE_LINK
    card_file.write_text(json.dumps(card, indent=1), encoding="utf-8")

    features_file = folder / "features.json"
    features = json.loads(features_file.read_text(encoding="utf-8"))
    for feature in features["features"]:
        feature["label"] = hostile(feature["label"])
        feature["patient_label"] = hostile(feature["patient_label"])
        feature["description"] = hostile(feature["description"] or "")
    features_file.write_text(json.dumps(features, indent=1), encoding="utf-8")

    demos_file = folder / "demo_cases.json"
    demos = json.loads(demos_file.read_text(encoding="utf-8"))
    for demo in demos:
        if demo["case_id"] in {"H-01", "H-03"}:
            demo["title"] = hostile(demo["title"])
            demo["description"] = hostile(demo["description"])
    demos_file.write_text(json.dumps(demos, indent=1), encoding="utf-8")
    return folder
