"""A case from the patient's record: upload a FHIR R4 Bundle, see where every value came from,
enter by hand only what the record could not give, then explain.

The reading, the per-field checks and the completed case come from the workflow door
(``case_from_record``, ``case_with_values_by_hand``); this module only lays them out. Record
text (ids, units, messages) is untrusted: the table is a dataframe of plain text, and the few
record strings in Markdown go through :func:`literal`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import streamlit as st

from caselens.errors import CaseLensError, CaseValidationError
from caselens.explain import FROM_RECORD, Case, RecordSources
from caselens.model import ModelBundle
from components.text import literal

#: The ways a record arrives (the EHR only after a sign-in with it, the server only when one
#: is configured).
FROM_LAUNCH = "The EHR (the patient it opened CaseLens for)"
FROM_SERVER = "The FHIR server"
FROM_FILE = "Upload a file"
#: Rows of the sources table shown without scrolling (a readmission case has 30+ inputs).
TABLE_ROWS_SHOWN = 16
_ROW_HEIGHT_PX = 35


def render_sources_table(
    sources: RecordSources, labels: dict[str, str], values_shown: dict[str, str], *, key: str
) -> None:
    """Every input: the value used, whether and where the record gave it, or its problem
    (plain text cells, never Markdown or HTML)."""
    rows = sources.table(labels, values_shown)
    st.dataframe(
        rows,
        hide_index=True,
        key=key,
        height=_ROW_HEIGHT_PX * (min(len(rows), TABLE_ROWS_SHOWN) + 1) + 3,
        # Widths in pixels fit the longest usual cell ("to enter by hand", "Only an old value
        # in the record: entered by hand"); the grid scrolls sideways past the pinned input.
        column_config={
            "Input": st.column_config.TextColumn(pinned=True, width=210),
            "Value used": st.column_config.TextColumn(width=130),
            "From the record?": st.column_config.TextColumn(width=310),
            "Where it came from": st.column_config.TextColumn(width=460),
            "Note": st.column_config.TextColumn(width=460),
        },
    )


def render_notes(sources: RecordSources) -> None:
    """What the record held that was not used (another patient's resources, malformed
    entries), in the reader's words, as plain text."""
    if sources.notes:
        st.caption("Not used from the record:")
        st.text("\n".join(sources.notes))


def summary_line(sources: RecordSources, *, entered: bool) -> str:
    """One line: whose record, the case date, how many inputs it gave and how many are (or
    were) entered by hand."""
    patient = sources.patient.reference() if sources.patient is not None else "no Patient resource"
    by_hand = sum(1 for f in sources.fields if f.status not in FROM_RECORD or f.by_hand)
    given = len(sources.fields) - by_hand
    return (
        f"Record of {patient}, case date {sources.case_date}: {given} of "
        f"{len(sources.fields)} inputs from the record, {by_hand} "
        f"{'entered' if entered else 'to enter'} by hand."
    )


def render_record_intake(bundle: ModelBundle, *, key_prefix: str, state_key: str) -> Case | None:
    """Upload a patient's record (or read it from the configured FHIR server), show every
    input's source or problem, ask by hand for the rest. Returns the completed, checked case
    (with its sources), or None until there is one; once explained, the table and the form
    stay one click away to change a value.

    The case is kept in ``st.session_state[state_key]`` with the record it was read from, so
    another file, date or patient id starts again rather than keep an older case."""
    from components.case_input import form_inputs, render_problems  # its third way in
    from session import run, user_session, workflow

    kept = st.session_state.get(state_key)
    assessed = isinstance(kept, tuple) and isinstance(kept[1], Case)
    label = "Patient's record (assessed; open to change)" if assessed else "Patient's record"
    launched = workflow().launched_patient(user_session())
    ways = [FROM_LAUNCH] if launched is not None else []
    ways += [FROM_SERVER] if workflow().reads_records_from_server else []
    ways += [FROM_FILE]
    with st.expander(label, expanded=not assessed):
        way = (
            st.radio(
                "Where the record comes from",
                ways,
                horizontal=True,
                key=f"{key_prefix}_record_way",
            )
            if len(ways) > 1
            else FROM_FILE
        )
        upload = None
        if way == FROM_FILE:
            upload = st.file_uploader(
                "The patient's record: a FHIR R4 Bundle (.json), e.g. a $everything export",
                type=["json"],
                key=f"{key_prefix}_record_upload",
            )
        date_column, patient_column = st.columns(2)
        today = dt.datetime.now(dt.UTC).date()
        case_date = date_column.date_input(
            "Case date",
            value=today,
            max_value=today,
            format="YYYY-MM-DD",
            key=f"{key_prefix}_record_date",
            help="Look-back windows and ages count back from this day (today unless changed).",
        )
        if way == FROM_LAUNCH:
            # The EHR's patient in context: shown, not typed (another patient needs a launch).
            patient_id = patient_column.text_input(
                "Patient id at the EHR (from the launch)",
                value=launched,
                disabled=True,
                key=f"{key_prefix}_record_launch_patient",
            )
        else:
            patient_label = (
                "Patient id on the FHIR server"
                if way == FROM_SERVER
                else "Patient id in the record (only if it holds several patients)"
            )
            patient_id = patient_column.text_input(
                patient_label, max_chars=64, key=f"{key_prefix}_record_patient"
            ).strip()
        asked_server = way == FROM_SERVER and st.button(
            "Read the record", key=f"{key_prefix}_record_fetch", disabled=not patient_id
        )
    read = st.session_state.get(f"{state_key}_read")
    if way == FROM_LAUNCH:
        # Read at once: the EHR opened CaseLens for this patient (recorded as record_read).
        record_key = ("launch", patient_id, case_date.isoformat())
        if isinstance(read, tuple) and read[0] == record_key:
            sources = read[1]
        else:
            with st.spinner("Reading the record from the EHR…"):
                sources = run(workflow().case_from_launch, bundle.model_id, case_date=case_date)
            st.session_state[f"{state_key}_read"] = (record_key, sources)
    elif way == FROM_SERVER:
        record_key = ("server", patient_id, case_date.isoformat())
        if asked_server:
            with st.spinner("Reading the record from the FHIR server…"):
                sources = run(
                    workflow().case_from_server, bundle.model_id, patient_id, case_date=case_date
                )
            st.session_state[f"{state_key}_read"] = (record_key, sources)
        elif isinstance(read, tuple) and read[0] == record_key:
            sources = read[1]
        else:
            return None
    else:
        if upload is None:
            return None
        data = upload.getvalue()
        record_key = (hashlib.sha256(data).hexdigest(), case_date.isoformat(), patient_id)
        if not (isinstance(read, tuple) and read[0] == record_key):
            with st.spinner("Reading the record…"):
                sources = run(
                    workflow().case_from_record,
                    bundle.model_id,
                    data,
                    case_date=case_date,
                    patient_id=patient_id or None,
                )
            st.session_state[f"{state_key}_read"] = (record_key, sources)
        else:
            sources = read[1]
    current = assessed and kept[0] == record_key
    if not current:
        st.session_state.pop(state_key, None)
    # Once explained, the table and the form fold away (the report starts high on the
    # screen); opening them changes a value entered by hand and explains again.
    label = (
        "Values from the record (assessed; open to change)"
        if current
        else ("Values from the record")
    )
    with st.expander(label, expanded=not current):
        case = _intake_table_and_form(
            bundle, sources, record_key, key_prefix, state_key, form_inputs, render_problems
        )
    if case is not None:
        return case
    return kept[1] if current else None


def _intake_table_and_form(
    bundle: ModelBundle,
    sources: RecordSources,
    record_key: tuple[str, str, str],
    key_prefix: str,
    state_key: str,
    form_inputs: Any,
    render_problems: Any,
) -> Case | None:
    """The intake table, then the form of the inputs the record could not give."""
    asked = [f.feature for f in sources.fields if f.status not in FROM_RECORD]
    st.caption(literal(summary_line(sources, entered=False)))
    features = bundle.features
    render_sources_table(
        sources,
        {f.name: f.label for f in features},
        {
            f.feature: features[f.feature].describe_value(f.value)
            for f in sources.fields
            if f.status in FROM_RECORD
        },
        key=f"{key_prefix}_record_table",
    )
    render_notes(sources)
    if asked:
        st.markdown(
            f"**Enter by hand** the {len(asked)} input(s) the record could not give "
            "(the table says why); nothing is filled in for you."
        )
    else:
        st.markdown("**Every input came from the record.**")
    typed = form_inputs(
        [features[name] for name in asked],
        f"{key_prefix}_record_by_hand",
        {},
        submit="Explain",
    )
    if typed is None:
        return None
    from session import user_session, workflow

    try:
        case = workflow().case_with_values_by_hand(user_session(), bundle.model_id, sources, typed)
    except CaseValidationError as error:
        render_problems(error)
        return None
    except CaseLensError as exc:
        st.error(literal(exc), icon=":material/block:")
        st.stop()
        raise
    st.session_state[state_key] = (record_key, case)
    return case
