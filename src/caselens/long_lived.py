"""Keeping Python's cyclic garbage collector off the objects a server holds for its life.

A dashboard process holds its model bundles and explainers (models, reference frames,
backgrounds, text columns as object arrays: about half a million objects for the two
samples) from start-up to shutdown. Every full collection walks all of them: about 0.24 s
here. Streamlit runs a full collection after every script run (``runner.postScriptGC``),
holding the interpreter lock while the last messages of the page wait to be sent, so each
clinician click paid that quarter of a second before the report reached the browser; the
automatic collections that occasionally fall inside a run pay it too.

:func:`freeze_long_lived` collects once, then moves every surviving object into the
collector's permanent generation (:func:`gc.freeze`): later collections skip them and cost
milliseconds. Reference counting still frees a frozen object that is no longer used; only a
reference cycle among frozen objects would outlive its use, and these objects live as long
as the process anyway. Called after each long-lived resource is built.
"""

from __future__ import annotations

import gc


def freeze_long_lived() -> int:
    """Collect garbage now, then exempt every surviving object from later collections.

    Returns
    -------
    int
        How many objects the collector now leaves alone (``gc.get_freeze_count()``).
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
