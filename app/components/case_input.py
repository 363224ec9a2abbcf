"""Choosing or entering a patient case: demo case, form, uploaded CSV/JSON, or the patient's
FHIR record (:mod:`components.record_intake`).

Feature labels, units and descriptions come from the bundle, demo titles from its demo
cases, problem messages from the case (an uploaded file's own field names): all are shown
through :func:`literal` (labels and help text are Markdown in Streamlit too)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import streamlit as st

from caselens.errors import CaseValidationError
from caselens.explain import Case, case_from_upload, validate_inputs
from caselens.model import FeatureSpec, ModelBundle
from components.text import code, literal

NOT_RECORDED = "Not recorded"
#: The third way in: the case read from the patient's FHIR record.
RECORD_CHOICE = "From the patient's record (FHIR)"


def render_problems(error: CaseValidationError) -> None:
    """Show every problem of a refused case, one per line, with the field named."""
    st.error(
        f"This case cannot be assessed: {len(error.problems)} problem(s) to fix.",
        icon=":material/block:",
    )
    st.markdown(
        "\n".join(f"- **{literal(p.field)}** — {literal(p.message)}" for p in error.problems)
    )


def zero_one_words(feature: FeatureSpec) -> dict[int, str] | None:
    """The words for 0 and 1 of a 0/1 input whose meaning is known: the card's category
    descriptions ({0: 'Female', 1: 'Male'}), or 'No'/'Yes' for a yes/no condition without
    them; None for any other input, or when nothing says what the codes mean (the form then
    keeps a plain number box rather than guess)."""
    meaning = feature.coded_meaning
    if meaning is None:
        return None
    described = {code: feature.description_of(code) for code in (0, 1)}
    if all(described.values()):
        return {code: str(text) for code, text in described.items()}
    if meaning == "yes_no":
        return {0: "No", 1: "Yes"}
    return None


def form_inputs(
    features: Iterable[FeatureSpec],
    key_prefix: str,
    start: dict,
    *,
    submit: str = "Assess this case",
) -> dict | None:
    """A form of the given inputs (labels, units and help from the schema), two columns;
    the values as entered once ``submit`` is clicked, else None."""
    values: dict[str, object] = {}
    with st.form(f"{key_prefix}_form"):
        columns = st.columns(2)
        for i, feature in enumerate(features):
            column = columns[i % 2]
            key = f"{key_prefix}_field_{feature.name}"
            help_text = literal(feature.description) if feature.description else None
            label = literal(feature.label)
            words = zero_one_words(feature)
            if words is not None:
                # A 0/1 code is chosen by its meaning ("1 = Male"), never typed as a bare digit.
                codes: list[object] = [0, 1]
                if feature.missing_allowed:
                    codes = [NOT_RECORDED, *codes]
                current = start.get(feature.name)
                known = current in (0, 1) and not isinstance(current, bool)
                index = (
                    codes.index(int(current)) if known else (0 if feature.missing_allowed else None)
                )
                meanings = ", ".join(f"{code} = {words[code]}" for code in (0, 1))
                choice = column.selectbox(
                    label,
                    codes,
                    index=index,
                    format_func=lambda code, w=words: (
                        str(code) if code == NOT_RECORDED else f"{code} = {w[code]}"
                    ),
                    key=key,
                    placeholder="required",
                    help=" ".join(x for x in (help_text, literal(meanings) + ".") if x),
                )
                values[feature.name] = None if choice == NOT_RECORDED else choice
            elif feature.kind == "category":
                options = list(feature.categories or ())
                if feature.missing_allowed:
                    options = [NOT_RECORDED, *options]
                current = start.get(feature.name)
                # A required category nobody chose stays empty: never its first option.
                index = (
                    options.index(current)
                    if current in options
                    else (0 if feature.missing_allowed else None)
                )
                choice = column.selectbox(
                    label,
                    options,
                    index=index,
                    key=key,
                    help=help_text,
                    placeholder="required",
                )
                values[feature.name] = None if choice in (NOT_RECORDED, None) else choice
            else:
                current = start.get(feature.name)
                limits = ""
                if feature.training_min is not None:
                    limits = (
                        f"Trained on {feature.training_min:g}–{feature.training_max:g}"
                        f"{' ' + literal(feature.unit) if feature.unit else ''}."
                    )
                values[feature.name] = column.number_input(
                    f"{label} ({literal(feature.unit)})" if feature.unit else label,
                    # float, like the step: a bundle's demo values may be ints (Streamlit
                    # refuses mixed numeric types).
                    value=None
                    if current is None or (isinstance(current, float) and math.isnan(current))
                    else float(current),
                    step=1.0 if feature.kind == "integer" else 0.1,
                    format="%g",
                    key=key,
                    placeholder=NOT_RECORDED if feature.missing_allowed else "required",
                    help=" ".join(x for x in (help_text, limits) if x) or None,
                )
        submitted = st.form_submit_button(submit, type="primary")
    return values if submitted else None


def render_case_input(
    bundle: ModelBundle, *, key_prefix: str, row: tuple[Any, Any] | None = None
) -> Case | None:
    """Let the clinician pick a demo case, fill the form, upload a file or read the case from
    the patient's FHIR record.

    ``row`` (two containers, e.g. columns) places the source choice and the demo patient
    side by side on one line; the form and the upload take the page's width below it.

    Returns the validated case, or None (with every problem shown per field) when there is
    no valid case yet. The last valid case is kept in ``st.session_state`` under
    ``{key_prefix}_case``.
    """
    from session import user_session, workflow

    source_slot, patient_slot = row if row is not None else (st.container(), st.container())
    sources = ["Demo patient", "Enter values", "Upload a file", RECORD_CHOICE]
    # Opened from the EHR (SMART), the case starts from that patient's record.
    launched = workflow().launched_patient(user_session()) is not None
    source = source_slot.radio(
        "Case",
        sources,
        index=sources.index(RECORD_CHOICE) if launched else 0,
        horizontal=True,
        key=f"{key_prefix}_source",
    )
    # One slot per source, so switching source never shows the other source's patient.
    state_key = f"{key_prefix}_{source.split()[0].lower()}_case"
    if source == "Demo patient":
        demos = {f"{d.case_id} — {d.title}": d for d in bundle.demo_cases}
        if not demos:
            st.info("This bundle has no demo patients; enter values or upload a file.")
            return None
        label = patient_slot.selectbox("Demo patient", list(demos), key=f"{key_prefix}_demo")
        demo = demos[label]
        patient_slot.caption(literal(demo.description))
        try:
            st.session_state[state_key] = validate_inputs(
                demo.inputs, bundle.features, source="demo", case_id=demo.case_id
            )
        except CaseValidationError as error:
            render_problems(error)
            st.session_state.pop(state_key, None)
    elif source == RECORD_CHOICE:
        from components.record_intake import render_record_intake  # it uses this module's form

        return render_record_intake(bundle, key_prefix=key_prefix, state_key=state_key)
    elif source == "Enter values":
        start = bundle.demo_cases[0].inputs if bundle.demo_cases else {}
        # Once a case is assessed the form folds away (a new label, so a new, closed
        # expander), leaving the result at the top of the screen; it opens to change it.
        assessed = isinstance(st.session_state.get(state_key), Case)
        label = "Patient values (assessed; open to change)" if assessed else "Patient values"
        with st.expander(label, expanded=not assessed):
            submitted = form_inputs(bundle.features, key_prefix, start)
        if submitted is not None:
            try:
                st.session_state[state_key] = validate_inputs(
                    submitted, bundle.features, source="form"
                )
            except CaseValidationError as error:
                render_problems(error)
                st.session_state.pop(state_key, None)
                return None
    else:
        assessed = isinstance(st.session_state.get(state_key), Case)
        label = "Patient file (assessed; open to change)" if assessed else "Patient file"
        with st.expander(label, expanded=not assessed):
            upload = st.file_uploader(
                "One patient as CSV (header + one row) or JSON (an object of field: value)",
                type=["csv", "json"],
                key=f"{key_prefix}_upload",
            )
            st.caption("Fields: " + ", ".join(code(n) for n in bundle.features.names))
        if upload is None:
            return None
        try:
            st.session_state[state_key] = case_from_upload(
                upload.name, upload.getvalue(), bundle.features
            )
        except CaseValidationError as error:
            render_problems(error)
            st.session_state.pop(state_key, None)
            return None
    case = st.session_state.get(state_key)
    return case if isinstance(case, Case) else None
