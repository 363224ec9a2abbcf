"""CaseLens: the entry point. Draws shared chrome, sets session defaults, builds the
navigation for the signed-in role."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# The app's own modules (components/, services, session) sit beside this file. Added once:
# this script runs again on every click, and each copy would lengthen every later import.
_APP_DIR = str(Path(__file__).resolve().parent)
if _APP_DIR not in sys.path:
    sys.path.insert(0, _APP_DIR)

from caselens.access import PAGES  # noqa: E402  (after the path is set, above)
from caselens.patient_language import catalogue  # noqa: E402
from components.text import literal  # noqa: E402
from session import current_viewer, end_session, workflow  # noqa: E402

st.set_page_config(page_title="CaseLens", page_icon="🔎", layout="wide")
_CSS = Path(__file__).resolve().parents[1] / "assets" / "theme.css"
if _CSS.is_file():
    st.html(f"<style>{_CSS.read_text(encoding='utf-8')}</style>")

PAGE_FILES = {
    "case": ("app_pages/case.py", "Case", ":material/stethoscope:"),
    "my_result": ("app_pages/my_result.py", "My result", ":material/chat:"),
    "audit_trail": ("app_pages/audit_trail.py", "Audit trail", ":material/receipt_long:"),
    "monitoring": ("app_pages/monitoring.py", "Monitoring", ":material/monitoring:"),
    "model_facts": ("app_pages/model_facts.py", "Model facts", ":material/description:"),
    "model_status": ("app_pages/model_status.py", "Model status", ":material/traffic:"),
    "users": ("app_pages/users.py", "Users", ":material/group:"),
}

viewer = current_viewer()
if viewer is None:
    sign_in_page = st.Page(
        "app_pages/sign_in.py", title="Sign in", icon=":material/login:", default=True
    )
    navigation = st.navigation([sign_in_page], position="hidden")
else:
    allowed = PAGES[viewer.role]
    # A patient reads the menu in their own language too (the staff pages stay English).
    say = catalogue(workflow().language_of(viewer) if viewer.role == "patient" else "en")
    # Every page is registered, so an address typed for a page outside the role reaches
    # that page's guard, which refuses and records the attempt; the menu lists only the
    # role's own pages.
    order = [*allowed, *(p for p in PAGE_FILES if p not in allowed)]
    pages = [
        st.Page(
            PAGE_FILES[p][0],
            title=say(PAGE_FILES[p][1]) if p == "my_result" else PAGE_FILES[p][1],
            icon=PAGE_FILES[p][2],
            default=p == allowed[0],
            visibility="visible" if p in allowed else "hidden",
        )
        for p in order
    ]
    navigation = st.navigation(pages)
    with st.sidebar:
        role = say("patient") if viewer.role == "patient" else viewer.role
        st.markdown(f"**{literal(viewer.name)}**  \n{literal(role)}")
        if st.button(say("Sign out"), key="sign_out"):
            end_session()  # recorded; the next person on this tab inherits nothing
            st.rerun()
        demos = [
            b.card.name for b in workflow().catalogue.bundles.values() if b.card.demonstration_only
        ]
        if demos and viewer.role == "patient":  # the card names are the staff's English
            st.caption(
                literal(say("This is a demonstration. The tools here are not for real care."))
            )
        elif demos:  # said only when a demonstration model is offered, and which ones
            st.caption(
                "Demonstration models, not for clinical use: "
                + "; ".join(literal(name) for name in demos)
                + "."
            )
navigation.run()
