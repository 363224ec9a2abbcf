"""ONNX model files: a data-only format for model families skops cannot hold safely.

An ``.onnx`` file is a protobuf graph of standard operators; loading it builds no Python
object and runs no code from the file. XGBoost, LightGBM and any scikit-learn pipeline
skl2onnx converts arrive this way (``caselens bundle convert``,
:mod:`caselens.authoring.onnx_convert`).

:class:`OnnxClassifier` wraps an onnxruntime session as a small estimator — ``predict_proba``
on a DataFrame of the clinical inputs, ``classes_`` and ``feature_names_in_`` — so the rest
of CaseLens (confidence, SHAP, LIME, context) works unchanged; ``predict_proba_columns`` takes
the same rows as one array per column, which a report's batch already is. The probability it
returns is the ONNX model's (float32 inside the graph, widened to float64 exactly).

Before onnxruntime sees the bytes, :func:`check_onnx_bytes` refuses, naming the problem:

* a file larger than :data:`MAX_ONNX_FILE_BYTES`;
* an operator, opset or local function outside the standard domains (``ai.onnx`` and
  ``ai.onnx.ml``): a custom operator is code outside the file;
* a tensor stored outside the file (external data): its location is a path, a way to read
  any file the server can;
* a ``Loop`` operator (its trip count comes from data: unbounded time), more than
  :data:`MAX_ONNX_NODES` nodes or subgraphs nested deeper than :data:`MAX_ONNX_GRAPH_DEPTH`;
* metadata beyond :data:`MAX_METADATA_ENTRIES` entries, or a value longer, deeper or larger
  than a bundle's JSON may be;
* a graph over its compute or memory budget, estimated from its shapes and operators
  (:func:`caselens.model.budget.check_onnx_budget`) — before onnxruntime, which runs
  constant parts of a graph while loading it.

Every call runs under a time limit and a memory cap onnxruntime enforces itself
(:func:`caselens.model.budget.run_with_time_limit`), and its probabilities are checked
(:func:`caselens.model.output_check.check_probabilities`): a call over budget or an answer
that is not a probability is a :class:`~caselens.errors.CaseLensError` naming why.

Determinism: the session runs on the CPU provider with one intra-op and one inter-op thread
and sequential execution, so the same rows give the same bits in every run and a row's
probability does not depend on the batch it is in (checked by ``tests/model/test_onnx_model.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from caselens.errors import BundleError
from caselens.model.budget import check_onnx_budget, ensure_capped_arena, run_with_time_limit
from caselens.model.output_check import check_probabilities

#: The file suffix of an ONNX model file, and its name inside a bundle.
ONNX_SUFFIX = ".onnx"
ONNX_MODEL_FILE = "model.onnx"
#: Largest ONNX model file read (the converted test models are under 200 kB; a 2,000-tree
#: gradient boosting model is a few MB).
MAX_ONNX_FILE_BYTES = 64 * 1024 * 1024
#: Most nodes, counted over the graph and every subgraph.
MAX_ONNX_NODES = 10_000
#: Deepest nesting of subgraphs (``If`` branches); the converters emit none.
MAX_ONNX_GRAPH_DEPTH = 4
#: The operator domains a model may use: the standard ONNX operators ("" is ``ai.onnx``)
#: and the standard classical-ML operators. Anything else needs code from outside the file.
ALLOWED_DOMAINS: frozenset[str] = frozenset({"", "ai.onnx", "ai.onnx.ml"})
#: Standard operators refused all the same: a ``Loop``'s trip count comes from the data.
REFUSED_OPERATORS: frozenset[str] = frozenset({"Loop"})
#: Most metadata entries a file may carry (``bundle convert`` writes five).
MAX_METADATA_ENTRIES = 100

#: Metadata keys written by ``caselens bundle convert`` (read when present).
META_FEATURES = "caselens.feature_names"
META_CLASSES = "caselens.classes"
META_PROBABILITY_OUTPUT = "caselens.probability_output"
META_SOURCE = "caselens.source_model"
#: How the source model's probability was calibrated: "isotonic", "sigmoid" or "none".
META_CALIBRATION = "caselens.calibration_method"

# onnxruntime's input types, as numpy types (a string input takes Python str objects).
_NUMERIC_INPUTS: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
}


def _what(name: str) -> str:
    return f"The ONNX model file {name}"


def _parse(data: bytes, name: str) -> Any:
    import onnx

    if len(data) > MAX_ONNX_FILE_BYTES:
        raise BundleError(
            f"{_what(name)} is {len(data)} bytes; the limit is {MAX_ONNX_FILE_BYTES} bytes."
        )
    try:
        return onnx.ModelProto.FromString(data)
    except Exception as exc:  # protobuf's DecodeError, RecursionError on deep nesting
        raise BundleError(f"{_what(name)} is not a valid ONNX file: {exc}"[:1000]) from exc


def _graphs(graph: Any, depth: int, name: str) -> Iterator[tuple[Any, int]]:
    """The graph and every subgraph held in a node attribute, with its depth."""
    import onnx

    if depth > MAX_ONNX_GRAPH_DEPTH:
        raise BundleError(
            f"{_what(name)} nests subgraphs more than {MAX_ONNX_GRAPH_DEPTH} deep; refused."
        )
    yield graph, depth
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from _graphs(attribute.g, depth + 1, name)
            elif attribute.type == onnx.AttributeProto.GRAPHS:
                for sub in attribute.graphs:
                    yield from _graphs(sub, depth + 1, name)


def _tensors(graph: Any) -> Iterator[Any]:
    """Every tensor a graph holds: initializers and tensors inside node attributes."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("sparse_tensor"):
                yield attribute.sparse_tensor.values
                yield attribute.sparse_tensor.indices
            for sparse in attribute.sparse_tensors:
                yield sparse.values
                yield sparse.indices


def check_onnx_bytes(data: bytes, name: str = ONNX_MODEL_FILE) -> Any:
    """Check an ONNX file's bytes before onnxruntime sees them; return the parsed model.

    Raises
    ------
    BundleError
        Naming every custom domain, the external-data tensor, the size or the node bound.
    """
    import onnx

    model = _parse(data, name)
    if model.functions:
        found = sorted({f"{f.domain}.{f.name}" for f in model.functions})
        raise BundleError(
            f"{_what(name)} defines local functions ({', '.join(found)}); CaseLens loads only "
            "graphs of standard operators, so it is refused."
        )
    if len(model.training_info):
        raise BundleError(f"{_what(name)} holds training information; refused.")
    custom = sorted({o.domain for o in model.opset_import if o.domain not in ALLOWED_DOMAINS})
    nodes = 0
    refused_ops: set[str] = set()
    for graph, _depth in _graphs(model.graph, 0, name):
        for node in graph.node:
            nodes += 1
            if node.domain not in ALLOWED_DOMAINS:
                custom.append(f"{node.domain} (operator {node.op_type})")
            elif node.op_type in REFUSED_OPERATORS:
                refused_ops.add(node.op_type)
        for tensor in _tensors(graph):
            if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
                where = next((e.value for e in tensor.external_data if e.key == "location"), "")
                raise BundleError(
                    f"{_what(name)} stores the tensor {tensor.name!r} outside the file "
                    f"(external data{f' at {where!r}' if where else ''}). A model file must "
                    "hold all its data: an outside location is a path on the server, so it "
                    "is refused."
                )
    if custom:
        raise BundleError(
            f"{_what(name)} uses operators outside the standard ONNX domains: "
            f"{', '.join(dict.fromkeys(custom))}. Only ai.onnx and ai.onnx.ml are allowed "
            "(a custom operator is code outside the file), so it is refused."
        )
    if refused_ops:
        raise BundleError(
            f"{_what(name)} uses {', '.join(sorted(refused_ops))}, whose running time "
            "depends on the data; refused."
        )
    if nodes > MAX_ONNX_NODES:
        raise BundleError(f"{_what(name)} has {nodes} nodes; the limit is {MAX_ONNX_NODES} nodes.")
    _check_metadata(model, name)
    check_onnx_budget(model, _what(name))
    return model


def _check_metadata(model: Any, name: str) -> None:
    """Bound the file's metadata as a bundle's JSON files are bounded (count, size, text)."""
    from caselens.model.bounded import MAX_BUNDLE_JSON_BYTES, MAX_TEXT_CHARS

    if len(model.metadata_props) > MAX_METADATA_ENTRIES:
        raise BundleError(
            f"{_what(name)} has {len(model.metadata_props)} metadata entries; the limit is "
            f"{MAX_METADATA_ENTRIES}."
        )
    for entry in model.metadata_props:
        if len(entry.key) > MAX_TEXT_CHARS or len(entry.value) > MAX_BUNDLE_JSON_BYTES:
            raise BundleError(
                f"{_what(name)} has a metadata entry ({entry.key[:80]!r}) longer than a "
                f"bundle's JSON may be ({MAX_BUNDLE_JSON_BYTES} bytes, keys "
                f"{MAX_TEXT_CHARS} characters)."
            )


def _session(data: bytes, name: str) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: a refusal is reported as a BundleError
    # Every allocation from the one arena capped at ONNX_ARENA_BYTES (caselens.model.budget).
    ensure_capped_arena()
    options.add_session_config_entry("session.use_env_allocators", "1")
    # Graph optimisations stay at onnxruntime's default (all): they do not change the
    # numbers on the CPU provider, and the tests compare the report with predict_proba.
    try:
        return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise BundleError(
            f"{_what(name)} could not be loaded by onnxruntime: {exc}"[:1000]
        ) from exc


def _classes_from_graph(model: Any) -> list[Any] | None:
    for node in model.graph.node:
        for attribute in node.attribute:
            if attribute.name == "classlabels_int64s" and attribute.ints:
                return [int(v) for v in attribute.ints]
            if attribute.name == "classlabels_strings" and attribute.strings:
                return [v.decode("utf-8") for v in attribute.strings]
    return None


class OnnxClassifier:
    """A binary classifier held in an ONNX file, run by onnxruntime.

    Parameters
    ----------
    data : bytes
        The ONNX file's bytes (checked by :func:`check_onnx_bytes` first).
    name : str
        The file name, for messages.
    call_seconds : float, optional
        The time limit of every call; by default :func:`caselens.model.budget.call_time_limit`
        of the rows asked.

    Attributes
    ----------
    classes_ : ndarray
        The two classes, in the order of the probability columns.
    feature_names_in_ : ndarray of str or None
        The input columns, from the file's ``caselens.feature_names`` metadata or from its
        graph inputs (one per column); None when neither names them.
    onnx_bytes : bytes
        The file's bytes, exactly as read (a bundle stores these).
    metadata : dict of str to str
        The file's metadata.
    answers_checked : bool
        True: every answer is checked to be a probability per row before it is returned
        (callers need not check it again).
    """

    answers_checked = True

    def __init__(
        self, data: bytes, name: str = ONNX_MODEL_FILE, *, call_seconds: float | None = None
    ) -> None:
        model = check_onnx_bytes(data, name)
        self.onnx_bytes = bytes(data)
        self.name = name
        self.call_seconds = call_seconds
        self.metadata = {p.key: p.value for p in model.metadata_props}
        self._session = _session(self.onnx_bytes, name)
        self._inputs = [(i.name, i.type, i.shape) for i in self._session.get_inputs()]
        for input_name, kind, shape in self._inputs:
            if kind not in _NUMERIC_INPUTS and kind != "tensor(string)":
                raise BundleError(
                    f"{_what(name)} takes input {input_name!r} as {kind}; CaseLens feeds "
                    "float, double or string inputs."
                )
            if len(shape) != 2:
                raise BundleError(
                    f"{_what(name)} takes input {input_name!r} with shape {shape}; expected "
                    "a table (rows x columns)."
                )
        names = self._feature_names()
        self.feature_names_in_ = None if names is None else np.asarray(names, dtype=object)
        self._width = self._check_widths(names)
        self._probability = self._probability_output()
        classes = self._meta_json(META_CLASSES) or _classes_from_graph(model)
        if classes is None:
            raise BundleError(
                f"{_what(name)} does not say its classes (no classifier labels and no "
                f"{META_CLASSES} metadata)."
            )
        self.classes_ = np.asarray(classes)

    @classmethod
    def from_file(cls, path: str | Path) -> OnnxClassifier:
        """Read and check an .onnx file (bounded by :data:`MAX_ONNX_FILE_BYTES`)."""
        from caselens.model.bounded import read_bounded

        path = Path(path)
        return cls(read_bounded(path, MAX_ONNX_FILE_BYTES, "The model file"), path.name)

    def __repr__(self) -> str:
        source = self.metadata.get(META_SOURCE)
        return f"OnnxClassifier({self.name}{f', from {source}' if source else ''})"

    def _meta_json(self, key: str) -> Any:
        if key not in self.metadata:
            return None
        from caselens.model.bounded import (
            MAX_BUNDLE_JSON_DEPTH,
            MAX_TEXT_CHARS,
            check_text_lengths,
            loads_bounded,
        )

        what = f"{_what(self.name)}: metadata {key}"
        try:
            parsed = loads_bounded(
                self.metadata[key].encode("utf-8"), what=what, max_depth=MAX_BUNDLE_JSON_DEPTH
            )
        except (json.JSONDecodeError, UnicodeError) as exc:
            raise BundleError(f"{what} is not JSON.") from exc
        check_text_lengths(parsed, what=what, max_chars=MAX_TEXT_CHARS)
        return parsed

    def _feature_names(self) -> list[str] | None:
        stored = self._meta_json(META_FEATURES)
        if stored is not None:
            if not isinstance(stored, list) or not all(isinstance(n, str) for n in stored):
                raise BundleError(f"{_what(self.name)}: {META_FEATURES} must list strings.")
            return stored
        if all(shape[1] == 1 for _, _, shape in self._inputs):
            return [input_name for input_name, _, _ in self._inputs]
        return None

    def _check_widths(self, names: Sequence[str] | None) -> int | None:
        """Inputs one per column (width None), or one table of all columns (its width)."""
        input_names = [i[0] for i in self._inputs]
        if names is not None and input_names == list(names):
            return None
        if len(self._inputs) == 1:
            width = self._inputs[0][2][1]
            if names is not None and isinstance(width, int) and width != len(names):
                raise BundleError(
                    f"{_what(self.name)} takes {width} columns, but its metadata names "
                    f"{len(names)} inputs."
                )
            if self._inputs[0][1] == "tensor(string)":
                raise BundleError(f"{_what(self.name)}: a single string input is not supported.")
            return width if isinstance(width, int) else -1
        if names is not None and set(input_names) == set(names):
            return None
        raise BundleError(
            f"{_what(self.name)} takes inputs {input_names}, which are neither one per column "
            "nor one table of all columns."
        )

    def _probability_output(self) -> str:
        outputs = self._session.get_outputs()
        wanted = self.metadata.get(META_PROBABILITY_OUTPUT)
        if wanted is not None:
            if wanted not in [o.name for o in outputs]:
                raise BundleError(f"{_what(self.name)} has no output named {wanted!r}.")
            return wanted
        candidates = [o.name for o in outputs if o.type in ("tensor(float)", "tensor(double)")]
        if len(candidates) == 1:
            return candidates[0]
        named = [o.name for o in outputs if "prob" in o.name.lower()]
        if len(named) == 1:
            return named[0]
        raise BundleError(
            f"{_what(self.name)}: which output holds the probabilities is unclear "
            f"({[o.name for o in outputs]}); set {META_PROBABILITY_OUTPUT} in its metadata."
        )

    def _feeds(
        self,
        columns: pd.DataFrame | Mapping[str, Any],
        n_rows: int,
        numeric: Callable[[Any, Any], np.ndarray],
        strings: Callable[[Any], np.ndarray],
    ) -> dict[str, np.ndarray]:
        """The session's inputs from ``columns`` (name → column, converted by ``numeric``
        and ``strings``)."""
        names = (
            list(self.feature_names_in_)
            if self.feature_names_in_ is not None
            else list(columns.keys())
        )
        missing = [n for n in names if n not in columns]
        if missing:
            raise ValueError(f"the data lack the model's input column(s): {', '.join(missing)}")
        if self._width is not None:
            input_name, kind, _ = self._inputs[0]
            if self._width >= 0 and len(names) != self._width:
                raise ValueError(f"the model takes {self._width} columns, got {len(names)}")
            dtype = _NUMERIC_INPUTS[kind]
            table = np.column_stack([numeric(columns[n], dtype) for n in names])
            return {input_name: table.reshape(n_rows, len(names))}
        feeds = {}
        for input_name, kind, _ in self._inputs:
            column = columns[input_name]
            if kind == "tensor(string)":
                values = strings(column)
            else:
                values = numeric(column, _NUMERIC_INPUTS[kind])
            feeds[input_name] = values.reshape(-1, 1)
        return feeds

    def _run(self, feeds: dict[str, np.ndarray], n_rows: int) -> np.ndarray:
        """One session call under its time limit, its answer checked (ModelBudgetError,
        ModelOutputError: both name why)."""
        (out,) = run_with_time_limit(
            lambda options: self._session.run([self._probability], feeds, options),
            n_rows,
            seconds=self.call_seconds,
            what=f"ONNX model {self.name}",
        )
        if isinstance(out, list):  # a ZipMap output: one {class: probability} per row
            out = np.array([[row.get(c, np.nan) for c in self.classes_.tolist()] for row in out])
        probs = check_probabilities(out, rows=n_rows)
        if probs.shape[1] != len(self.classes_):
            raise ValueError(
                f"the ONNX model returned probabilities of shape {probs.shape}, expected "
                f"({n_rows}, {len(self.classes_)})"
            )
        return probs

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Probabilities of the two classes per row, shape (n, 2), from the ONNX model."""
        if not isinstance(frame, pd.DataFrame):
            raise TypeError("OnnxClassifier.predict_proba takes a DataFrame of the inputs")
        if len(frame) == 0:
            return np.empty((0, len(self.classes_)))
        return self._run(self._feeds(frame, len(frame), _numeric, _strings), len(frame))

    def predict_proba_columns(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """``predict_proba(pd.DataFrame(columns))`` bit for bit, without building the frame.

        For callers that hold a batch as one array per column (a report's explanation rows:
        see :class:`caselens.explain.attribution.Attributor`): building a DataFrame of several
        thousand rows only for the model to take its columns apart again costs more than
        the arrays themselves. A float64 column goes to a numeric input and an object column
        of text (``None`` = missing) to a string input as they are; any other column is
        converted exactly as the DataFrame's column would be.

        Raises
        ------
        ValueError
            If the columns differ in length, or as :meth:`predict_proba` raises.
        """
        lengths = {len(column) for column in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"the columns differ in length: {sorted(lengths)}")
        n_rows = lengths.pop() if lengths else 0
        if n_rows == 0:
            return np.empty((0, len(self.classes_)))
        return self._run(self._feeds(columns, n_rows, _numeric_array, _strings_array), n_rows)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The more probable class per row."""
        return self.classes_[np.argmax(self.predict_proba(frame), axis=1)]


def _numeric(column: pd.Series, dtype: Any) -> np.ndarray:
    """A column as numbers; missing (None, NaN, pd.NA) as NaN."""
    values = pd.to_numeric(column, errors="raise")
    return np.asarray(values.to_numpy(dtype="float64", na_value=np.nan)).astype(dtype)


def _numeric_array(values: np.ndarray, dtype: Any) -> np.ndarray:
    """:func:`_numeric` of an array: a float64 array as it is (what a frame's float64 column
    gives), anything else through pandas as a frame's column would go."""
    if isinstance(values, np.ndarray) and values.dtype == np.float64:
        return values.astype(dtype)
    return _numeric(pd.Series(values), dtype)


def _strings_array(values: np.ndarray) -> np.ndarray:
    """:func:`_strings` of an array: an object array of text and ``None`` with ``None`` as
    the empty string; anything else through pandas as a frame's column would go."""
    if isinstance(values, np.ndarray) and values.dtype == object:
        out = values.copy()
        out[np.equal(values, None)] = ""
        # Every value text (C-level check): what the frame's text column gives, value for
        # value. Otherwise (a NaN, a number) pandas decides, as it would in a frame.
        if pd.api.types.infer_dtype(out, skipna=False) == "string":
            return out
    return _strings(pd.Series(values))


def _strings(column: pd.Series) -> np.ndarray:
    """A column as Python strings; a missing value as the empty string."""
    if isinstance(column.dtype, pd.StringDtype):
        # Every value is text or missing: converted in one call (a model's input of several
        # thousand rows per report spent a millisecond here value by value).
        return column.to_numpy(dtype=object, na_value="")
    values = column.astype(object).to_numpy(dtype=object, copy=True)
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = "" if pd.isna(value) else str(value)
    return out


def is_onnx_file(path: str | Path) -> bool:
    """Whether a model file name says ONNX."""
    return Path(path).suffix.lower() == ONNX_SUFFIX
