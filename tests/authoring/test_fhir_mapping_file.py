"""FHIR mapping files: any JSON is refused cleanly or read; merging names unknown features."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caselens.authoring.fhir_mapping_file import merge_fhir_mappings, parse_fhir_mappings
from caselens.errors import BundleError
from caselens.model.fhir_mapping_check import fhirpath_error

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(
        st.sampled_from(
            ["resource_type", "codes", "units", "unit", "value_path", "bands", "combine",
             "entered_by_hand", "value_map", "when_absent", "derive", "system", "code", "x"]
        ),
        children,
        max_size=5,
    ),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(data=st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=4) | JSON_VALUES)
def test_any_parsed_json_is_read_or_refused_with_a_bundle_error(data) -> None:
    try:
        mappings = parse_fhir_mappings(data)
    except BundleError as exc:
        assert "The FHIR mapping file" in str(exc)
        return
    assert isinstance(data, dict) and set(mappings) == set(data)


@settings(max_examples=150, deadline=None)
@given(
    expression=st.text(alphabet="abcdefgwhere().'[]=|$%0123456789 -+*/,{}", min_size=0, max_size=60)
)
def test_fhirpath_check_never_raises(expression: str) -> None:
    result = fhirpath_error(expression)
    assert result is None or isinstance(result, str)


def test_merge_keeps_unnamed_features_and_refuses_unknown_names(heart_bundle) -> None:
    schema = heart_bundle.features
    mappings = parse_fhir_mappings(
        {"age": {"entered_by_hand": True, "by_hand_reason": "Asked at the visit."}}
    )
    merged = merge_fhir_mappings(schema, mappings)
    assert merged["age"].fhir is not None and merged["age"].fhir.entered_by_hand
    assert merged["sex"].fhir == schema["sex"].fhir  # untouched
    with pytest.raises(BundleError, match="'agee'") as caught:
        merge_fhir_mappings(schema, {"agee": mappings["age"]})
    assert "The schema's features: age, sex" in str(caught.value)


def test_the_docs_show_every_sample_mapping_and_reason() -> None:
    # docs/fhir-mapping.md's tables were written from the sample files: a changed reason or
    # a new input must be changed there too.
    import json
    from pathlib import Path

    from caselens.authoring.samples import SAMPLES

    doc = (Path(__file__).resolve().parents[2] / "docs" / "fhir-mapping.md").read_text(
        encoding="utf-8"
    )
    # Every version's files: a later version's file maps the inputs it adds.
    for path in sorted({path for recipe in SAMPLES for path in recipe.fhir_mappings}):
        for name, mapping in json.loads(path.read_text(encoding="utf-8")).items():
            assert f"| `{name}` |" in doc, name
            if mapping.get("entered_by_hand"):
                assert mapping["by_hand_reason"] in doc, name
            for code in mapping.get("codes", []):
                assert code["code"] in doc, (name, code)


def test_the_docs_json_example_is_a_valid_mapping_file() -> None:
    import json
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "fhir-mapping.md").read_text(
        encoding="utf-8"
    )
    blocks = re.findall(r"^```json\n(.*?)^```", doc, re.MULTILINE | re.DOTALL)
    assert blocks
    for block in blocks:
        assert parse_fhir_mappings(json.loads(block))
