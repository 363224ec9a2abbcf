"""Issue 23: a module split by job keeps its old import path, each name the very object its
new module defines (so a caller of the old path and of the new one share one function)."""

from __future__ import annotations

import importlib

import pytest

# old module -> the modules its names now live in
SPLITS = {
    "caselens.model.bundle": (
        "caselens.model.bundle_layout",
        "caselens.model.bundle_read",
        "caselens.model.bundle_write",
        "caselens.model.catalogue",
        "caselens.model.bounded",
        "caselens.model.file_check",
        "caselens.model.file_trust",
    ),
    "caselens.model.card_check": (
        "caselens.model.bundle_layout",
        "caselens.model.data_check",
        "caselens.model.subgroups",
        "caselens.model.input_wording",
    ),
    "caselens.model.file_check": (
        "caselens.model.skops_archive",
        "caselens.model.skops_audit",
        "caselens.model.loaded_model_check",
    ),
    "caselens.authoring.bundle_builder": (
        "caselens.authoring.data_files",
        "caselens.authoring.card_text",
        "caselens.authoring.demo_cases",
        "caselens.authoring.card_template",
    ),
    "caselens.authoring.samples.readmission": (
        "caselens.authoring.samples.readmission_data",
        "caselens.authoring.samples.readmission_features",
        "caselens.authoring.samples.readmission_card",
    ),
}


@pytest.mark.parametrize("old", sorted(SPLITS))
def test_every_name_an_old_module_lists_is_the_one_its_new_module_defines(old):
    face = importlib.import_module(old)
    parts = [importlib.import_module(p) for p in SPLITS[old]]
    moved = 0
    for name in face.__all__:
        value = getattr(face, name)  # an AttributeError: a name listed but not re-exported
        for part in parts:
            if name in vars(part):
                assert getattr(part, name) is value, f"{old}.{name} differs from {part.__name__}"
                moved += 1
    assert moved, f"{old} lists no name from its parts"


def test_the_old_paths_still_offer_what_callers_import():
    from caselens.authoring.bundle_builder import (
        DEFAULT_DEMO_CASES,
        build_bundle,
        card_template,
        read_data_file,
        read_demo_cases_file,
    )
    from caselens.authoring.samples.readmission import diagnosis_group
    from caselens.model.bundle import TRUSTED_TYPES, load_bundle, load_catalogue
    from caselens.model.card_check import INTERSECTION_MARK, check_card, subgroup_figures
    from caselens.model.file_check import MAX_MODEL_FILE_BYTES, load_checked_skops

    assert DEFAULT_DEMO_CASES == 8
    assert INTERSECTION_MARK == " × "
    assert MAX_MODEL_FILE_BYTES == 256 * 1024 * 1024
    assert diagnosis_group("250.01") == "Diabetes"
    assert "caselens bundle init" in card_template()
    for value in (build_bundle, read_data_file, read_demo_cases_file, load_bundle):
        assert callable(value)
    for value in (load_catalogue, check_card, subgroup_figures, load_checked_skops):
        assert callable(value)
    assert TRUSTED_TYPES
