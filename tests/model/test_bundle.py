"""Model bundles: round trip, and every refusal names what is wrong."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from caselens.errors import BundleError, CardError
from caselens.model.bundle import (
    CARD_FILE,
    create_bundle,
    load_bundle,
    read_model_file,
    sha256_file,
)


def _edit_card(folder: Path, **changes) -> None:
    card = json.loads((folder / CARD_FILE).read_text())
    card.update(changes)
    (folder / CARD_FILE).write_text(json.dumps(card))


def _replace_model_file(folder: Path, name: str, data: bytes) -> None:
    (folder / name).write_bytes(data)
    _edit_card(folder, model_file=name, model_sha256=sha256_file(folder / name))


def test_bundle_round_trip_gives_identical_predictions(heart_bundle, tmp_path):
    created = create_bundle(
        heart_bundle.model,
        card=heart_bundle.card,
        features=heart_bundle.features,
        reference=heart_bundle.reference,
        calibration_data=heart_bundle.calibration_data,
        demo_cases=heart_bundle.demo_cases,
        path=tmp_path / "copy",
    )
    reloaded = load_bundle(tmp_path / "copy")
    assert reloaded.card == created.card
    assert reloaded.features == heart_bundle.features
    assert (
        reloaded.model_sha256
        == created.model_sha256
        == sha256_file(tmp_path / "copy" / "model.skops")
    )
    np.testing.assert_array_equal(
        reloaded.predict_proba(heart_bundle.reference),
        heart_bundle.predict_proba(heart_bundle.reference),
    )
    assert [c.case_id for c in reloaded.demo_cases] == [c.case_id for c in heart_bundle.demo_cases]


def test_model_file_whose_hash_differs_from_the_card_is_refused(bundle_copy):
    folder = bundle_copy()
    with open(folder / "model.skops", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(BundleError, match=r"does not match its card: SHA-256 is [0-9a-f]{64}"):
        load_bundle(folder)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"decision_threshold": 1.5}, "decision_threshold"),
        ({"model_id": "Not Valid!"}, "model_id"),
        ({"last_review_date": "not a date"}, "last_review_date"),
    ],
)
def test_invalid_card_is_refused_naming_the_field(bundle_copy, change, field):
    folder = bundle_copy()
    _edit_card(folder, **change)
    with pytest.raises(CardError, match=rf"field '{field}'"):
        load_bundle(folder)


def test_card_missing_an_hti1_source_attribute_is_refused_naming_it(bundle_copy):
    folder = bundle_copy()
    card = json.loads((folder / CARD_FILE).read_text())
    del card["source_attributes"]["fairness_local"]
    (folder / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(CardError, match=r"source_attributes.*fairness_local"):
        load_bundle(folder)


def test_card_with_a_blank_hti1_source_attribute_is_refused(bundle_copy):
    folder = bundle_copy()
    card = json.loads((folder / CARD_FILE).read_text())
    card["source_attributes"]["funding_source"] = "  "
    (folder / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(CardError, match=r"'funding_source' is blank"):
        load_bundle(folder)


def test_card_that_is_not_json_is_refused(bundle_copy):
    folder = bundle_copy()
    (folder / CARD_FILE).write_text("{not json")
    with pytest.raises(BundleError, match=r"card.json\) is not valid UTF-8 JSON"):
        load_bundle(folder)


def test_untrusted_type_inside_the_skops_file_is_refused_and_named(bundle_copy, heart_bundle):
    folder = bundle_copy()
    sneaky = make_pipeline(FunctionTransformer(np.log1p), heart_bundle.model)
    _replace_model_file(folder, "model.skops", sio.dumps(sneaky))
    with pytest.raises(BundleError, match=r"does not trust: .*numpy\.log1p"):
        load_bundle(folder)


def test_pickle_model_file_is_refused_unless_the_operator_allows_it(bundle_copy, heart_bundle):
    folder = bundle_copy()
    _replace_model_file(folder, "model.pkl", pickle.dumps(heart_bundle.model))
    with pytest.raises(BundleError, match=r"pickle/joblib file.*CASELENS_ALLOW_PICKLE=1"):
        load_bundle(folder)
    with pytest.warns(UserWarning, match="loaded with pickle"):
        allowed = load_bundle(folder, allow_pickle=True)
    assert allowed.warnings and "Pickle can run arbitrary code" in allowed.warnings[0]


def test_bundle_built_with_another_sklearn_version_is_refused_naming_both(bundle_copy):
    folder = bundle_copy()
    card = json.loads((folder / CARD_FILE).read_text())
    card["library_versions"]["scikit-learn"] = "1.2.2"
    (folder / CARD_FILE).write_text(json.dumps(card))
    import sklearn

    with pytest.raises(
        BundleError, match=rf"scikit-learn 1\.2\.2.*scikit-learn {sklearn.__version__}"
    ):
        load_bundle(folder)


def test_missing_reference_data_is_refused(bundle_copy):
    folder = bundle_copy()
    (folder / "reference.parquet").unlink()
    with pytest.raises(BundleError, match="reference data is missing"):
        load_bundle(folder)


def test_reference_data_without_outcome_is_refused_by_create(heart_bundle, tmp_path):
    with pytest.raises(BundleError, match="lacks column\\(s\\): outcome"):
        create_bundle(
            heart_bundle.model,
            card=heart_bundle.card,
            features=heart_bundle.features,
            reference=heart_bundle.reference.drop(columns="outcome"),
            path=tmp_path / "b",
        )


def test_read_model_file_refuses_pickle_without_opt_in(tmp_path, heart_bundle):
    path = tmp_path / "m.joblib"
    path.write_bytes(pickle.dumps(heart_bundle.model))
    with pytest.raises(BundleError, match="--allow-pickle"):
        read_model_file(path)


def test_demo_case_lookup_names_the_known_ids(heart_bundle):
    with pytest.raises(BundleError, match=r"'H-99' is not in bundle heart-disease \(known: H-01"):
        heart_bundle.demo_case("H-99")


def test_missing_bundle_folder_is_refused(tmp_path):
    with pytest.raises(BundleError, match="There is no model bundle folder"):
        load_bundle(tmp_path / "nothing-here")


def test_reference_frame_columns_are_the_schema_plus_outcome(sample_bundles):
    for bundle in sample_bundles.values():
        assert list(bundle.reference.columns) == [*bundle.features.names, "outcome"]
        assert set(pd.unique(bundle.reference["outcome"])) == {0, 1}


def test_a_failed_overwrite_keeps_the_old_bundle_and_leaves_no_partial_folder(
    heart_bundle, tmp_path
):
    first = create_bundle(
        heart_bundle.model,
        card=heart_bundle.card,
        features=heart_bundle.features,
        reference=heart_bundle.reference,
        path=tmp_path / "heart",
    )
    before = sorted(p.name for p in first.path.iterdir())
    card = heart_bundle.card.model_dump(mode="json")
    card["validation"]["overall"]["events"] += 1  # a claim the reference data refutes
    with pytest.raises(BundleError, match="overall events: the card claims"):
        create_bundle(
            heart_bundle.model,
            card=card,
            features=heart_bundle.features,
            reference=heart_bundle.reference,
            path=tmp_path / "heart",
            overwrite=True,
        )
    assert [p.name for p in tmp_path.iterdir()] == ["heart"]
    assert sorted(p.name for p in (tmp_path / "heart").iterdir()) == before
    assert load_bundle(tmp_path / "heart").card == first.card
