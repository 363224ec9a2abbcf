"""CaseLens: the entry point. Draws shared chrome, sets session defaults, builds navigation."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import streamlit as st

# The app's own modules (components/, services) sit beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from caselens.display import Viewer
from caselens.settings import Settings

st.set_page_config(page_title="CaseLens", page_icon="🔎", layout="wide")
_CSS = Path(__file__).resolve().parents[1] / "assets" / "theme.css"
if _CSS.is_file():
    st.html(f"<style>{_CSS.read_text(encoding='utf-8')}</style>")

settings = Settings.from_env()
st.session_state.setdefault("session_id", uuid.uuid4().hex)
st.session_state.setdefault(
    "viewer", Viewer(user_id=settings.local_user_id, name=settings.local_user_name,
                     role="clinician"))

pages = [
    st.Page("app_pages/case.py", title="Case", icon="🩺", default=True),
    st.Page("app_pages/model_facts.py", title="Model facts", icon="📋"),
]
navigation = st.navigation(pages)
with st.sidebar:
    viewer: Viewer = st.session_state["viewer"]
    st.markdown(f"**{viewer.name}** · {viewer.role}")
    st.caption("Sample models are demonstrations, not for clinical use.")
navigation.run()
