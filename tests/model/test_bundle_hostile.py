"""Hostile bundles: a bundle is data, never code.

Each hostile bundle is a copy of the sample heart-disease bundle with one thing made
hostile (the card's hash updated, so the hash check is not what refuses it). Every one is
refused with its reason named, and loading it writes no file anywhere.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import caselens.model.bundle_read as bundle_module
from caselens.errors import BundleError
from caselens.model.bundle import (
    MAX_BUNDLE_JSON_DEPTH,
    MAX_FEATURES,
    MAX_TABLE_FILE_BYTES,
    MAX_TEXT_CHARS,
    load_bundle,
    load_catalogue,
)
from caselens.model.file_check import (
    MAX_JSON_NODE_DEPTH,
    MAX_MODEL_FILE_BYTES,
    MAX_MODEL_MEMBER_BYTES,
    MAX_MODEL_MEMBERS,
    MAX_MODEL_UNCOMPRESSED_BYTES,
    MAX_SCHEMA_BYTES,
    MAX_SCHEMA_DEPTH,
)
from caselens.model.file_trust import TRUSTED_TYPES_FILE_ENV
from caselens.settings import SAMPLE_MODELS_DIR
from hostile_bundles import (
    _node,
    add_attribute,
    array_node,
    declare_size,
    dict_node,
    edit_card,
    files_under,
    first_array_member,
    function_node,
    json_node,
    list_node,
    method_node,
    nested_lists,
    read_model,
    streamed_zeros_member,
    type_node,
    write_model,
    write_model_bytes,
    zip_bytes,
)

PAYLOAD_FILE = "pwned.bin"


@dataclass(frozen=True)
class Hostile:
    """How to make a bundle hostile, and the reason its refusal must give."""

    build: Callable[[Path, Path], None]  # (bundle folder, a watched folder for payloads)
    reason: str  # regex searched in the BundleError message


# -- hostile model files: names that are not on CaseLens's list ---------------------------


def _tofile_at_load(folder: Path, watched: Path) -> None:
    # skops rebuilds dict keys by calling each key type on the stored key: a bound
    # ndarray.tofile as key type writes the array to the key's path while loading. Both an
    # absolute path (a watched folder) and a relative one (the working directory).
    schema, members = read_model(folder)
    array = array_node(first_array_member(members))
    payload = dict_node(
        {str(watched / PAYLOAD_FILE): json_node(0), PAYLOAD_FILE: json_node(1)},
        key_types=[method_node(array, "tofile"), method_node(array, "tofile")],
    )
    write_model(folder, add_attribute(schema, "zz_payload", payload), members)


def _str_format_at_load(folder: Path, watched: Path) -> None:
    # str.format reaches any attribute of its argument: a read gadget at load time.
    schema, members = read_model(folder)
    fmt = method_node(json_node("{0.__class__.__init__.__globals__}"), "format")
    payload = dict_node({"key": json_node(0)}, key_types=[fmt])
    write_model(folder, add_attribute(schema, "zz_payload", payload), members)


def _pipeline_with_function(folder: Path, replace: Callable[[dict], dict]) -> None:
    """The sample model behind a FunctionTransformer whose func node is replaced."""
    from caselens.model.bundle import load_bundle as load

    model = load(SAMPLE_MODELS_DIR / "heart-disease").model
    data = sio.dumps(make_pipeline(FunctionTransformer(np.log1p), model))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        schema = json.loads(archive.read("schema.json"))
        members = {n: archive.read(n) for n in archive.namelist() if n != "schema.json"}
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("__loader__") == "FunctionNode" and node.get("__class__") == "log1p":
                node.clear()
                node.update(replace(members))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    write_model(folder, schema, members)


def _eval_at_predict(folder: Path, watched: Path) -> None:
    _pipeline_with_function(folder, lambda members: function_node("builtins", "eval"))


def _os_system_at_predict(folder: Path, watched: Path) -> None:
    # skops stores a builtin function such as os.system as a type node (posix.system).
    _pipeline_with_function(folder, lambda members: type_node("posix", "system"))


def _method_at_predict(folder: Path, watched: Path) -> None:
    _pipeline_with_function(
        folder, lambda members: method_node(array_node(first_array_member(members)), "tofile")
    )


def _function_deep_in_tree(folder: Path, watched: Path) -> None:
    schema, members = read_model(folder)
    deep = nested_lists(function_node("os", "system"), 40)
    write_model(folder, add_attribute(schema, "zz_payload", deep), members)


def _operator_function(folder: Path, watched: Path) -> None:
    schema, members = read_model(folder)
    caller = _node(
        "OperatorFuncNode",
        "operator",
        "methodcaller",
        attrs=_node("TupleNode", "builtins", "tuple", content=[json_node("system")]),
    )
    write_model(folder, add_attribute(schema, "zz_payload", caller), members)


def _reduce_constructor(folder: Path, watched: Path) -> None:
    # skops' LossNode calls the class the node names, with arguments from the file.
    schema, members = read_model(folder)
    loss = _node(
        "LossNode",
        "builtins",
        "exec",
        __reduce__={"args": _node("TupleNode", "builtins", "tuple", content=[json_node("1")])},
        content=dict_node({}),
    )
    write_model(folder, add_attribute(schema, "zz_payload", loss), members)


def _constructor_from_reduce(folder: Path, watched: Path) -> None:
    schema, members = read_model(folder)
    popen = _node(
        "ConstructorFromReduceNode",
        "subprocess",
        "Popen",
        content=_node("TupleNode", "builtins", "tuple", content=[json_node("true")]),
    )
    write_model(folder, add_attribute(schema, "zz_payload", popen), members)


def _function_as_key_type(folder: Path, watched: Path) -> None:
    schema, members = read_model(folder)
    payload = dict_node(
        {str(watched / PAYLOAD_FILE): json_node(0)}, key_types=[function_node("os", "remove")]
    )
    write_model(folder, add_attribute(schema, "zz_payload", payload), members)


def _unknown_node_kind(folder: Path, watched: Path) -> None:
    schema, members = read_model(folder)
    strange = _node("EvilNode", "builtins", "object")
    write_model(folder, add_attribute(schema, "zz_payload", strange), members)


def _old_protocol(folder: Path, watched: Path) -> None:
    schema, members = read_model(folder)
    schema["protocol"] = 0
    write_model(folder, schema, members)


# -- hostile model files: bombs and lies --------------------------------------------------


def _schema_bomb(folder: Path, watched: Path) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        streamed_zeros_member(archive, "schema.json", MAX_SCHEMA_BYTES + 1)
    write_model_bytes(folder, out.getvalue())


def _npy_bomb(folder: Path, watched: Path) -> None:
    write_model_bytes(folder, _npy_bomb_bytes())


_NPY_BOMB: list[bytes] = []


def _npy_bomb_bytes() -> bytes:
    # A real bomb: one member that inflates to just over the per-member limit (~260 kB of
    # deflate). Built once per test session.
    if not _NPY_BOMB:
        schema, members = read_model(SAMPLE_MODELS_DIR / "heart-disease")
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("schema.json", json.dumps(schema))
            for name, data in members.items():
                archive.writestr(name, data)
            streamed_zeros_member(archive, "bomb.npy", MAX_MODEL_MEMBER_BYTES + 1)
        _NPY_BOMB.append(out.getvalue())
    return _NPY_BOMB[0]


LIAR_INFLATES_TO = 64 * 1024 * 1024
LIAR_DECLARES = 1024


def _lying_member(folder: Path, watched: Path) -> None:
    schema, members = read_model(folder)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("schema.json", json.dumps(schema))
        for name, data in members.items():
            archive.writestr(name, data)
        streamed_zeros_member(archive, "liar.npy", LIAR_INFLATES_TO)
    write_model_bytes(folder, declare_size(out.getvalue(), "liar.npy", LIAR_DECLARES))


def _total_too_large(folder: Path, watched: Path) -> None:
    # Three members each declaring 200 MiB: each under the per-member limit, too much together.
    schema, members = read_model(folder)
    data = zip_bytes({"schema.json": json.dumps(schema).encode(), "a.npy": b"", "b.npy": b"",
                      "c.npy": b"", **members})  # fmt: skip
    for name in ("a.npy", "b.npy", "c.npy"):
        data = declare_size(data, name, 200 * 1024 * 1024)
    write_model_bytes(folder, data)


def _too_many_members(folder: Path, watched: Path) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("schema.json", "{}")
        for index in range(MAX_MODEL_MEMBERS):
            archive.writestr(f"{index}.npy", b"")
    write_model_bytes(folder, out.getvalue())


def _deep_schema(folder: Path, watched: Path) -> None:
    write_model(folder, b"[" * 100_000 + b"]" * 100_000, {})


def _deep_json_literal(folder: Path, watched: Path) -> None:
    schema, members = read_model(folder)
    literal = json_node(0)
    literal["content"] = "[" * (MAX_JSON_NODE_DEPTH + 1) + "]" * (MAX_JSON_NODE_DEPTH + 1)
    write_model(folder, add_attribute(schema, "zz_payload", literal), members)


def _model_file_too_large(folder: Path, watched: Path) -> None:
    # A sparse file: its size is refused before a byte of it is read or hashed.
    with open(folder / "model.skops", "wb") as handle:
        handle.truncate(MAX_MODEL_FILE_BYTES + 1)


# -- hostile JSON files, links and paths -----------------------------------------------------


def _deep_json(name: str) -> Callable[[Path, Path], None]:
    def build(folder: Path, watched: Path) -> None:
        (folder / name).write_text("[" * 100_000 + "]" * 100_000)

    return build


def _symlinked(name: str) -> Callable[[Path, Path], None]:
    def build(folder: Path, watched: Path) -> None:
        outside = folder.parent / f"outside-{name}"
        shutil.move(folder / name, outside)
        (folder / name).symlink_to(outside)

    return build


def _model_file_named(name: str) -> Callable[[Path, Path], None]:
    def build(folder: Path, watched: Path) -> None:
        edit_card(folder, model_file=name)

    return build


def _long_card_text(folder: Path, watched: Path) -> None:
    edit_card(folder, summary="x" * (MAX_TEXT_CHARS + 1))


def _long_feature_text(folder: Path, watched: Path) -> None:
    features = json.loads((folder / "features.json").read_text())
    features["features"][0]["description"] = "x" * (MAX_TEXT_CHARS + 1)
    (folder / "features.json").write_text(json.dumps(features))


def _too_many_features(folder: Path, watched: Path) -> None:
    features = json.loads((folder / "features.json").read_text())
    first = features["features"][0]
    features["features"] = [first | {"name": f"f{i}"} for i in range(MAX_FEATURES + 1)]
    (folder / "features.json").write_text(json.dumps(features))


def _fifo_card(folder: Path, watched: Path) -> None:
    # Opening a FIFO for reading would block forever.
    (folder / "card.json").unlink()
    os.mkfifo(folder / "card.json")


def _reference_too_large(folder: Path, watched: Path) -> None:
    with open(folder / "reference.parquet", "r+b") as handle:
        handle.truncate(MAX_TABLE_FILE_BYTES + 1)


HOSTILE: dict[str, Hostile] = {
    "method ndarray.tofile run at load": Hostile(_tofile_at_load, r"method numpy\.ndarray\.tofile"),
    "method str.format run at load": Hostile(_str_format_at_load, r"method builtins\.str\.format"),
    "function eval used at predict": Hostile(_eval_at_predict, r"function builtins\.eval"),
    "os.system used at predict": Hostile(_os_system_at_predict, r"type posix\.system"),
    "method used at predict": Hostile(_method_at_predict, r"method numpy\.ndarray\.tofile"),
    "function deep in the tree": Hostile(_function_deep_in_tree, r"function os\.system"),
    "operator function": Hostile(_operator_function, r"operator function operator\.methodcaller"),
    "reduce constructor": Hostile(_reduce_constructor, r"reduce constructor builtins\.exec"),
    "constructor from reduce": Hostile(
        _constructor_from_reduce, r"reduce constructor subprocess\.Popen"
    ),
    "function as key type": Hostile(
        _function_as_key_type, r"function os\.remove; key type \(a FunctionNode node\)"
    ),
    "unknown node kind": Hostile(_unknown_node_kind, r"unknown node kind EvilNode"),
    "old protocol": Hostile(_old_protocol, r"skops protocol 0 \(CaseLens reads protocol\(s\) 2\)"),
    "schema.json bomb": Hostile(
        _schema_bomb,
        rf"member 'schema\.json' declares {MAX_SCHEMA_BYTES + 1} bytes uncompressed; "
        rf"the limit is {MAX_SCHEMA_BYTES} bytes",
    ),
    ".npy bomb": Hostile(
        _npy_bomb,
        rf"member 'bomb\.npy' declares {MAX_MODEL_MEMBER_BYTES + 1} bytes uncompressed; "
        rf"the limit is {MAX_MODEL_MEMBER_BYTES} bytes",
    ),
    "member lying about its size": Hostile(
        _lying_member,
        rf"member 'liar\.npy' is damaged or does not match its declared size of {LIAR_DECLARES}",
    ),
    "total size over the limit": Hostile(
        _total_too_large,
        rf"declares more than {MAX_MODEL_UNCOMPRESSED_BYTES} bytes uncompressed",
    ),
    "too many members": Hostile(
        _too_many_members,
        rf"has {MAX_MODEL_MEMBERS + 1} members; the limit is {MAX_MODEL_MEMBERS} members",
    ),
    "deep schema.json": Hostile(
        _deep_schema,
        rf"\(schema\.json\) is nested 100000 levels deep; the limit is {MAX_SCHEMA_DEPTH}",
    ),
    "deep JSON literal in schema.json": Hostile(
        _deep_json_literal, rf"nests {MAX_JSON_NODE_DEPTH + 1} levels deep"
    ),
    "model file too large": Hostile(
        _model_file_too_large,
        rf"model file \(model\.skops\) is {MAX_MODEL_FILE_BYTES + 1} bytes; "
        rf"the limit is {MAX_MODEL_FILE_BYTES} bytes",
    ),
    "deep card.json": Hostile(
        _deep_json("card.json"),
        rf"\(card\.json\) is nested 100000 levels deep; the limit is {MAX_BUNDLE_JSON_DEPTH}",
    ),
    "deep features.json": Hostile(
        _deep_json("features.json"), r"\(features\.json\) is nested 100000 levels deep"
    ),
    "deep demo_cases.json": Hostile(
        _deep_json("demo_cases.json"), r"\(demo_cases\.json\) is nested 100000 levels deep"
    ),
    "symlinked model file": Hostile(_symlinked("model.skops"), r"symbolic link \(model\.skops\)"),
    "symlinked reference file": Hostile(
        _symlinked("reference.parquet"), r"symbolic link \(reference\.parquet\)"
    ),
    "model_file ../x.skops": Hostile(
        _model_file_named("../x.skops"), r"model_file \('\.\./x\.skops'\) must be a plain file"
    ),
    "model_file /etc/passwd": Hostile(
        _model_file_named("/etc/passwd"), r"model_file \('/etc/passwd'\) must be a plain file"
    ),
    "oversized card text": Hostile(
        _long_card_text,
        rf"card\.json\): the text at 'summary' is {MAX_TEXT_CHARS + 1} characters long; "
        rf"the limit is {MAX_TEXT_CHARS}",
    ),
    "oversized feature text": Hostile(
        _long_feature_text, r"features\.json\): the text at 'features\[0\]\.description'"
    ),
    "too many features": Hostile(
        _too_many_features,
        rf"lists {MAX_FEATURES + 1} features; the limit is {MAX_FEATURES} features",
    ),
    "card.json is a FIFO": Hostile(_fifo_card, r"card\.json\) is not a regular file"),
    "reference data too large": Hostile(
        _reference_too_large,
        rf"reference\.parquet\) is {MAX_TABLE_FILE_BYTES + 1} bytes; the limit is",
    ),
}


@pytest.fixture()
def hostile_bundle(
    bundle_copy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], tuple[Path, Path]]:
    """Build a named hostile bundle; returns (bundle folder, watched payload folder).

    The working directory is an empty folder under tmp_path, so a payload writing to a
    relative path would show up there too.
    """

    def build(name: str) -> tuple[Path, Path]:
        folder = bundle_copy()
        watched = tmp_path / "watched"
        watched.mkdir()
        workdir = tmp_path / "workdir"
        workdir.mkdir()
        monkeypatch.chdir(workdir)
        HOSTILE[name].build(folder, watched)
        return folder, watched

    return build


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_bundle_is_refused_naming_why_and_writes_nothing(name, hostile_bundle, tmp_path):
    folder, watched = hostile_bundle(name)
    before = files_under(tmp_path)
    with pytest.raises(BundleError, match=HOSTILE[name].reason):
        load_bundle(folder)
    assert files_under(tmp_path) == before, "loading a hostile bundle wrote a file"
    assert not (watched / PAYLOAD_FILE).exists()


def test_the_load_time_payload_is_real_against_a_naive_loader(hostile_bundle, tmp_path):
    # Proves the corpus is not a straw man: handing skops' own untrusted list back to skops
    # (what CaseLens used to do) runs ndarray.tofile and writes the files while loading.
    folder, watched = hostile_bundle("method ndarray.tofile run at load")
    data = (folder / "model.skops").read_bytes()
    sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    assert (watched / PAYLOAD_FILE).exists()
    assert (tmp_path / "workdir" / PAYLOAD_FILE).exists()


def test_refusal_names_every_offending_item(bundle_copy, tmp_path):
    folder = bundle_copy()
    schema, members = read_model(folder)
    array = array_node(first_array_member(members))
    add_attribute(schema, "a", function_node("builtins", "eval"))
    add_attribute(schema, "b", method_node(array, "tofile"))
    add_attribute(schema, "c", type_node("posix", "system"))
    add_attribute(
        schema, "d", _node("ObjectNode", "sklearn.ensemble._weight_boosting", "AdaBoostClassifier")
    )
    write_model(folder, schema, members)
    with pytest.raises(BundleError) as refused:
        load_bundle(folder)
    message = str(refused.value)
    for item in (
        "function builtins.eval",
        "method numpy.ndarray.tofile",
        "type posix.system",
        # Trusted by skops by default, but not on CaseLens's list: deny by default.
        "class sklearn.ensemble._weight_boosting.AdaBoostClassifier",
    ):
        assert item in message


def test_lying_member_is_stopped_early_in_time_and_memory(hostile_bundle):
    folder, _ = hostile_bundle("member lying about its size")
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(BundleError, match=r"liar\.npy"):
            load_bundle(folder)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - started
    # It would inflate to 64 MiB; reading stops at the declared 1 kB (plus one chunk).
    assert peak < 16 * 1024 * 1024
    assert elapsed < 5


def test_npy_bomb_is_refused_before_it_is_inflated(hostile_bundle):
    folder, _ = hostile_bundle(".npy bomb")
    tracemalloc.start()
    try:
        with pytest.raises(BundleError, match=r"bomb\.npy"):
            load_bundle(folder)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024


def test_unexpected_failures_become_refusals_naming_the_bundle(bundle_copy, monkeypatch):
    folder = bundle_copy()
    for error in (RecursionError("too deep"), MemoryError(), KeyError("x"), TypeError("t")):

        def fail(*args, error=error, **kwargs):
            raise error

        monkeypatch.setattr(bundle_module, "check_binary_classifier", fail)
        with pytest.raises(BundleError, match=rf"bundle {folder.name} could not be loaded: "):
            load_bundle(folder)


def test_a_bad_bundle_is_refused_alone_next_to_good_ones(hostile_bundle, tmp_path):
    folder, _ = hostile_bundle("method ndarray.tofile run at load")
    models = tmp_path / "models"
    models.mkdir()
    shutil.move(folder, models / "vendor-model")
    for model_id in ("heart-disease", "readmission-30d"):
        shutil.copytree(SAMPLE_MODELS_DIR / model_id, models / model_id)
    before = files_under(tmp_path)
    catalogue = load_catalogue(models)
    assert sorted(catalogue.bundles) == ["heart-disease", "readmission-30d"]
    assert list(catalogue.refused) == ["vendor-model"]
    assert "method numpy.ndarray.tofile" in catalogue.refused["vendor-model"]
    assert files_under(tmp_path) == before


def test_catalogue_refuses_a_crashing_bundle_and_a_duplicate_id(tmp_path, monkeypatch):
    models = tmp_path / "models"
    for name in ("a-heart", "b-heart-again", "c-broken"):
        shutil.copytree(SAMPLE_MODELS_DIR / "heart-disease", models / name)
    real = bundle_module._load_bundle

    def crash_one(folder, **kwargs):
        if folder.name == "c-broken":
            raise RecursionError("maximum recursion depth exceeded")
        return real(folder, **kwargs)

    monkeypatch.setattr(bundle_module, "_load_bundle", crash_one)
    catalogue = load_catalogue(models)
    assert list(catalogue.bundles) == ["heart-disease"]
    assert "already served by the bundle folder a-heart" in catalogue.refused["b-heart-again"]
    assert "RecursionError" in catalogue.refused["c-broken"]


# -- the operator's allow-list file ------------------------------------------------------


def _log1p_bundle(folder: Path) -> None:
    from caselens.model.bundle import load_bundle as load

    model = load(SAMPLE_MODELS_DIR / "heart-disease").model
    write_model_bytes(folder, sio.dumps(make_pipeline(FunctionTransformer(np.log1p), model)))


@pytest.mark.parametrize(
    ("file_name", "text"),
    [
        ("trusted.toml", 'functions = ["numpy.log1p"]\n'),
        ("trusted.json", '{"functions": ["numpy.log1p"]}'),
        ("trusted.txt", "# reviewed 2026-11-25\nfunction: numpy.log1p\n"),
    ],
)
def test_operator_file_extends_the_allow_list(file_name, text, bundle_copy, tmp_path, monkeypatch):
    folder = bundle_copy()
    _log1p_bundle(folder)
    with pytest.raises(BundleError, match=r"function numpy\.log1p"):
        load_bundle(folder)
    (tmp_path / file_name).write_text(text)
    monkeypatch.setenv(TRUSTED_TYPES_FILE_ENV, str(tmp_path / file_name))
    assert load_bundle(folder).model_id == "heart-disease"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('classes = ["numpy.log1p"]\n', r"unknown kind\(s\) classes"),
        ("functions = 'numpy.log1p'\n", r"'functions' must be a list"),
        ('functions = ["log1p"]\n', r"'log1p' is not a dotted name"),
        ("functions = [\n", r"is not valid TOML"),
    ],
)
def test_a_broken_operator_file_refuses_rather_than_guesses(
    text, reason, bundle_copy, tmp_path, monkeypatch
):
    folder = bundle_copy()
    (tmp_path / "trusted.toml").write_text(text)
    monkeypatch.setenv(TRUSTED_TYPES_FILE_ENV, str(tmp_path / "trusted.toml"))
    with pytest.raises(BundleError, match=rf"trusted-types file .*trusted\.toml.*{reason}"):
        load_bundle(folder)


def test_a_missing_operator_file_refuses(bundle_copy, tmp_path, monkeypatch):
    monkeypatch.setenv(TRUSTED_TYPES_FILE_ENV, str(tmp_path / "nowhere.toml"))
    with pytest.raises(BundleError, match=r"trusted-types file .*nowhere\.toml.* cannot be read"):
        load_bundle(bundle_copy())


def test_samples_load_with_an_empty_operator_file(tmp_path, monkeypatch):
    (tmp_path / "trusted.txt").write_text("# nothing extra\n")
    monkeypatch.setenv(TRUSTED_TYPES_FILE_ENV, str(tmp_path / "trusted.txt"))
    for model_id in ("heart-disease", "readmission-30d"):
        assert load_bundle(SAMPLE_MODELS_DIR / model_id).model_id == model_id


def test_a_plain_data_list_is_not_mistaken_for_a_dict(bundle_copy):
    # list_node is used by the helpers; a bundle with an extra plain list still loads.
    folder = bundle_copy()
    schema, members = read_model(folder)
    write_model(folder, add_attribute(schema, "zz_notes", list_node([json_node("ok")])), members)
    assert load_bundle(folder).model_id == "heart-disease"


# -- common classifier families load through the checked loader ---------------------------


def _families() -> dict[str, object]:
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.naive_bayes import BernoulliNB, GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    return {
        "random forest": RandomForestClassifier(n_estimators=8, random_state=0),
        "extra trees": ExtraTreesClassifier(n_estimators=8, random_state=0),
        "gradient boosting": GradientBoostingClassifier(n_estimators=8, random_state=0),
        "decision tree": DecisionTreeClassifier(max_depth=4, random_state=0),
        "k nearest neighbours": KNeighborsClassifier(algorithm="brute"),
        "svc": SVC(probability=True, random_state=0),
        "mlp adam": MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0),
        "mlp sgd": MLPClassifier(solver="sgd", max_iter=300, random_state=0),
        "gaussian nb": GaussianNB(),
        "bernoulli nb": BernoulliNB(),
    }


def _synthetic() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    features = rng.normal(size=(160, 5))
    outcome = (features[:, 0] - features[:, 2] + rng.normal(scale=0.7, size=160) > 0).astype(int)
    return features, outcome


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore:The `probability` parameter was deprecated:FutureWarning")
@pytest.mark.parametrize("family", list(_families()))
def test_common_classifier_family_loads_with_identical_probabilities(family):
    from sklearn.preprocessing import StandardScaler

    from caselens.model.file_check import load_checked_skops

    features, outcome = _synthetic()
    fitted = make_pipeline(StandardScaler(), _families()[family]).fit(features, outcome)
    loaded = load_checked_skops(sio.dumps(fitted), f"{family}.skops")
    np.testing.assert_array_equal(loaded.predict_proba(features), fitted.predict_proba(features))


def test_nearest_neighbours_with_a_kd_tree_is_refused_naming_it():
    from sklearn.neighbors import KNeighborsClassifier

    from caselens.model.file_check import load_checked_skops

    features, outcome = _synthetic()
    fitted = KNeighborsClassifier(algorithm="kd_tree").fit(features, outcome)
    with pytest.raises(BundleError, match=r"class sklearn\.neighbors\._kd_tree\.KDTree"):
        load_checked_skops(sio.dumps(fitted), "knn.skops")


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda tree: tree.children_left.__setitem__(0, 10_000), r"left child out of range"),
        (lambda tree: tree.children_right.__setitem__(0, 0), r"right child out of range"),
        (lambda tree: tree.feature.__setitem__(0, 50), r"splits on feature 50"),
    ],
)
def test_tree_whose_indices_point_outside_is_refused(tamper, reason):
    from sklearn.tree import DecisionTreeClassifier

    from caselens.model.file_check import load_checked_skops

    features, outcome = _synthetic()
    fitted = DecisionTreeClassifier(max_depth=3, random_state=0).fit(features, outcome)
    tamper(fitted.tree_)
    with pytest.raises(BundleError, match=reason):
        load_checked_skops(sio.dumps(fitted), "tree.skops")


def test_histogram_boosting_tree_whose_feature_is_out_of_range_is_refused(readmission_bundle):
    import copy

    from caselens.model.file_check import check_loaded_model

    model = copy.deepcopy(readmission_bundle.model)
    stack, predictor = [model], None
    while predictor is None:
        item = stack.pop()
        if type(item).__name__ == "TreePredictor":
            predictor = item
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif hasattr(item, "__dict__"):
            stack.extend(vars(item).values())
    inner = np.flatnonzero(~predictor.nodes["is_leaf"].astype(bool))[0]
    predictor.nodes["feature_idx"][inner] = 10_000
    with pytest.raises(BundleError, match=r"splits on feature 10000"):
        check_loaded_model(model, "model.skops")
