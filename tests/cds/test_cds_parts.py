"""The CDS service's parts without a server: the rate limit, Markdown escaping, the issuers
file, prefetch templates and parsing, and the card's summary for long model names."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caselens.bench.cds_ehr import SimulatedEhr, mapped_heart_disease, write_issuers
from caselens.cds.cards import MAX_SUMMARY_CHARS, card_summary, escape_markdown
from caselens.cds.issuers import IssuersError, load_issuers
from caselens.cds.prefetch import (
    PrefetchInvalid,
    PrefetchMissing,
    prefetch_templates,
    record_from_prefetch,
)
from caselens.cds.rate_limit import IssuerRateLimit
from caselens.explain.cases import validate_inputs
from caselens.explain.report import explainer_for
from caselens.model import load_catalogue
from caselens.model.features import FeatureSchema
from caselens.settings import SAMPLE_MODELS_DIR

# -- rate limit -------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_served_then_the_issuer_waits_and_others_do_not():
    clock = Clock()
    limit = IssuerRateLimit(burst=3, per_second=0.5, clock=clock)
    assert [limit.take("ehr-a") for _ in range(3)] == [None, None, None]
    assert limit.take("ehr-a") == 2  # one call refills in 2 s
    assert limit.take("ehr-b") is None  # another issuer has its own bucket
    clock.now += 2.0
    assert limit.take("ehr-a") is None
    assert limit.take("ehr-a") == 2


def test_a_rate_limit_needs_a_burst_and_a_rate():
    with pytest.raises(ValueError):
        IssuerRateLimit(burst=0)
    with pytest.raises(ValueError):
        IssuerRateLimit(per_second=0)


# -- Markdown ---------------------------------------------------------------------------------

_SPECIAL = set("\\`*_{}[]()#+-.!|~")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_escaped_text_has_no_markup_left(text):
    out = escape_markdown(text)
    assert "\n" not in out and "\r" not in out and "<" not in out and ">" not in out
    i = 0
    while i < len(out):  # every special character is escaped by the backslash before it
        if out[i] == "\\":
            assert out[i + 1] in _SPECIAL
            i += 2
            continue
        assert out[i] not in _SPECIAL
        i += 1
    # The escapes and entities read back as the (whitespace-collapsed) original text.
    plain = re.sub(r"\\(.)", r"\1", out).replace("&lt;", "<").replace("&gt;", ">")
    assert plain.replace("&amp;", "&") == " ".join(text.split())[:400]


def test_a_link_an_image_and_html_are_escaped():
    out = escape_markdown("![x](http://a) [y](javascript:z) <script>&")
    assert out == r"\!\[x\]\(http://a\) \[y\]\(javascript:z\) &lt;script&gt;&amp;"


# -- issuers file -----------------------------------------------------------------------------


def test_the_issuers_file_gives_each_issuers_keys_by_kid(tmp_path):
    ehr, other = SimulatedEhr(), SimulatedEhr(issuer="https://b.example.org", rsa=True)
    issuers = load_issuers(write_issuers(tmp_path, ehr, other))
    assert set(issuers) == {ehr.issuer, other.issuer}
    assert set(issuers[ehr.issuer].keys) == {ehr.kid}
    assert issuers[other.issuer].keys[other.kid].key_type == "RSA"
    assert load_issuers(None) == {}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("not json", "not valid JSON"),
        ('{"issuers": {}}', "expected"),
        ('{"issuers": [{"iss": ""}]}', "'iss' must be a URL"),
        ('{"issuers": [{"iss": "https://a"}]}', "'jwks_file' is required"),
        ('{"issuers": [{"iss": "https://a", "jwks_file": "missing.json"}]}', "cannot be read"),
        ('{"issuers": [{"iss": "https://a", "jwks_file": "jwks.json"}]}', "no key with a 'kid'"),
    ],
)
def test_a_bad_issuers_file_names_what_is_wrong(tmp_path, content, expected):
    ehr = SimulatedEhr()
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [ehr.jwk | {"kid": ""}]}))
    path = tmp_path / "issuers.json"
    path.write_text(content)
    with pytest.raises(IssuersError, match=re.escape(expected)):
        load_issuers(path)


# -- prefetch ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def heart(tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    mapped_heart_disease(models)
    return load_catalogue(models).bundles["heart-disease"]


def test_templates_ask_for_the_patient_and_the_mapped_codes_only(heart):
    templates = prefetch_templates(heart)
    assert set(templates) == {"patient", "observation"}
    codes = templates["observation"].split("&code=")[1].split(",")
    assert len(codes) == 11 and "http://loinc.org|8867-4" in codes


def test_an_unmapped_model_asks_only_for_the_patient():
    sample = load_catalogue(SAMPLE_MODELS_DIR).bundles["heart-disease"]
    assert prefetch_templates(sample) != {"patient": "Patient/{{context.patientId}}"}
    unmapped = FeatureSchema(
        features=tuple(spec.model_copy(update={"fhir": None}) for spec in sample.features)
    )
    sample = dataclasses.replace(sample, features=unmapped)
    assert prefetch_templates(sample) == {"patient": "Patient/{{context.patientId}}"}


def test_a_searchset_becomes_one_record_without_duplicates_or_outcomes():
    patient = {"resourceType": "Patient", "id": "p1"}
    obs = {"resourceType": "Observation", "id": "o1"}
    search = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"resource": obs},
            {"resource": obs},
            {"resource": {"resourceType": "OperationOutcome"}},
        ],
    }
    data = record_from_prefetch(
        {"patient": "Patient/x", "observation": "Observation?x"},
        {"patient": patient, "observation": search},
    )
    bundle = json.loads(data)
    assert bundle["type"] == "collection"
    assert [e["resource"]["id"] for e in bundle["entry"]] == ["p1", "o1"]


def test_a_key_not_sent_or_null_is_named():
    with pytest.raises(PrefetchMissing) as caught:
        record_from_prefetch({"patient": "P", "observation": "O"}, {"patient": None})
    assert caught.value.keys == ["patient", "observation"]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["patient", "observation", "x"]), _json, max_size=3) | _json)
def test_any_json_prefetch_is_a_record_or_a_named_refusal(prefetch):
    templates = {"patient": "Patient/x", "observation": "Observation?x"}
    try:
        data = record_from_prefetch(templates, prefetch)
    except (PrefetchMissing, PrefetchInvalid):
        return
    assert json.loads(data)["resourceType"] == "Bundle"


# -- summary ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def heart_report(heart):
    demo = heart.demo_cases[0]
    case = validate_inputs(demo.inputs, heart.features, source="demo", case_id=demo.case_id)
    return explainer_for(heart).explain(case)


@pytest.mark.parametrize("name", ["Heart disease at angiography", "H" * 60, "Heart " * 40])
def test_the_summary_is_under_140_characters_and_keeps_the_number_and_side(
    heart, heart_report, name
):
    report = heart_report
    outcome = heart.card.outcome.model_copy(update={"name": name})
    card = heart.card.model_copy(update={"name": name, "outcome": outcome})
    summary = card_summary(report, dataclasses.replace(heart, card=card))
    assert len(summary) <= MAX_SUMMARY_CHARS
    assert f"{100 * report.probability:.1f}%" in summary
    assert "below the 50.0% threshold" in summary
