"""CaseLens: the entry point. Draws shared chrome, sets session defaults, builds the
navigation for the signed-in role."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import streamlit as st

# The app's own modules (components/, services, session) sit beside this file. Added once:
# this script runs again on every click, and each copy would lengthen every later import.
_APP_DIR = str(Path(__file__).resolve().parent)
if _APP_DIR not in sys.path:
    sys.path.insert(0, _APP_DIR)

from caselens.access import PAGE_TITLES, PAGES  # noqa: E402  (after the path is set, above)
from caselens.explain import catalogue  # noqa: E402
from components.smart_launch import handle_smart_launch  # noqa: E402
from components.text import literal  # noqa: E402
from session import (  # noqa: E402
    current_viewer,
    end_session,
    requested_page,
    session_cookie_pixel,
    workflow,
)

st.set_page_config(page_title="CaseLens", page_icon="🔎", layout="wide")
_CSS = Path(__file__).resolve().parents[1] / "assets" / "theme.css"
if _CSS.is_file():
    st.html(f"<style>{_CSS.read_text(encoding='utf-8')}</style>")

_ICONS = {
    "case": ":material/stethoscope:",
    "my_result": ":material/chat:",
    "audit_trail": ":material/receipt_long:",
    "monitoring": ":material/monitoring:",
    "model_facts": ":material/description:",
    "model_status": ":material/traffic:",
    "users": ":material/group:",
}
PAGE_FILES = {p: (f"app_pages/{p}.py", PAGE_TITLES[p], _ICONS[p]) for p in PAGE_TITLES}
#: An address that can be a page's path (anything else is left to Streamlit).
_PAGE_PATH = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)

# A SMART launch or the EHR's answer in the address is handled first: it decides who is
# signed in on this tab (components/smart_launch.py).
handle_smart_launch()
viewer = current_viewer()
# The address asked for by URL; a run right after signing in still knows the address the
# sign-in form was shown at (that run is a rerun, not a page load).
before_sign_in = st.session_state.pop("address_at_sign_in", None) if viewer else None
asked = requested_page() or before_sign_in
# An address that is no page of the app: it is answered with the landing page (below), not
# with Streamlit's "Page not found" dialog.
unknown = asked if asked and asked not in PAGE_FILES and _PAGE_PATH.fullmatch(asked) else None
if viewer is None:
    sign_in_page = st.Page(
        "app_pages/sign_in.py", title="Sign in", icon=":material/login:", default=True
    )
    # Any page's address (a reload after the session ended, a bookmark) shows the sign-in
    # form, and after sign-in that page, if the role may open it.
    elsewhere = [
        st.Page("app_pages/sign_in.py", title="Sign in", url_path=p, visibility="hidden")
        for p in [*PAGE_FILES, *([unknown] if unknown else [])]
    ]
    navigation = st.navigation([sign_in_page, *elsewhere], position="hidden")
    st.session_state["address_at_sign_in"] = navigation.url_path or None
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
    landing = pages[0]

    def _to_landing() -> None:
        st.switch_page(landing)

    if unknown:
        pages.append(
            st.Page(_to_landing, title=landing.title, url_path=unknown, visibility="hidden")
        )
    navigation = st.navigation(pages)
    if before_sign_in in PAGE_FILES and before_sign_in not in allowed:
        # The address was there before signing in (a previous user's page, a bookmark): it
        # is no attempt to reach another role's page, so land on the role's own.
        st.switch_page(landing)
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
        session_cookie_pixel()  # a new or refreshed session cookie, when one is due
navigation.run()
