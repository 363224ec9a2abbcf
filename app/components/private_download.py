"""A download offered only to the session that prepared it, whose address expires seconds
after the click.

A plain ``st.download_button`` puts its bytes in Streamlit's media store at once, under an
address (``/media/<hash>``) that any client — with no cookie, no session — can fetch for as
long as the page offers it. Here the data are handed to Streamlit as a callable instead: no
address exists until the click, which reaches the server over the preparing session's own
connection (the button's placeholder id is sent to that session only). The click stores the
file and the browser fetches it at once; ``ADDRESS_LIFETIME_S`` seconds later the stored
file is removed, so the address serves nothing to anyone afterwards. Another click on the
same button (while it is still offered) prepares a fresh copy the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import streamlit as st

#: Seconds a clicked download's address serves the file: the browser fetches it within
#: milliseconds of the click; five seconds covers a busy server without leaving it open.
ADDRESS_LIFETIME_S = 5.0


def _forget_later(data: bytes, mime: str, file_name: str) -> None:
    """Remove the stored copy of this download after ``ADDRESS_LIFETIME_S`` seconds.

    Streamlit (pinned at 1.67.0) keeps a clicked deferred download in its media store,
    unreferenced, until two later script runs sweep it; its id is the hash of the data,
    type and name. We remove exactly that file, and only if no session references it.
    """
    from streamlit import runtime
    from streamlit.runtime.memory_media_file_storage import _calculate_file_id

    if not runtime.exists():
        return
    manager = runtime.get_instance().media_file_mgr
    file_id = _calculate_file_id(data, mime, file_name)

    def forget() -> None:
        with manager._lock:
            if file_id in manager._get_inactive_file_ids():
                manager._delete_file(file_id)

    timer = threading.Timer(ADDRESS_LIFETIME_S, forget)
    timer.daemon = True
    timer.start()


def _served_once_per_click(data: bytes, mime: str, file_name: str) -> Callable[[], bytes]:
    def serve() -> bytes:
        _forget_later(data, mime, file_name)
        return data

    return serve


def private_download(label: str, data: bytes, *, file_name: str, mime: str, key: str) -> None:
    """A download button whose file exists only from the click until a few seconds later,
    and only for this session's click (no rerun on click: the page stays as it is)."""
    st.download_button(
        label,
        _served_once_per_click(data, mime, file_name),
        file_name=file_name,
        mime=mime,
        key=key,
        on_click="ignore",
    )
