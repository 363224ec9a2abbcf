"""A compute and memory budget for every model, stated and enforced.

A model file is untrusted, and a small one can be a bomb: an 11 kB ONNX graph of 400 matrix
products runs for minutes (onnxruntime even runs it while *loading*, folding constants), and
one ``ConstantOfShape`` node asks for 16 GiB. Three guards, in order:

1. **At load, before onnxruntime sees the graph** (:func:`estimate_onnx_cost`): every
   input's open dimension is set to :data:`ESTIMATE_ROWS` rows, ONNX shape inference gives
   every tensor's shape, and each node's arithmetic and each tensor's bytes are counted
   (matrix products as multiply-adds, tree ensembles as their longest paths per row, else as
   the elements it reads or writes; ``If`` branches both counted, a ``Scan`` body times its
   trip count). Above :data:`MAX_ONNX_OPERATIONS` operations or
   :data:`MAX_ONNX_WORKING_BYTES` of live tensors, or a node whose output size depends on
   the data (``ConstantOfShape``, ``Expand``, ``Tile``, ``Range`` … with a shape that is not
   known before it runs), the file is refused, naming the node.
2. **On every call** (:func:`run_with_time_limit`): onnxruntime's own ``RunOptions.terminate``
   is set by one watchdog thread once the call exceeds :func:`call_time_limit` (at least
   :data:`MIN_CALL_SECONDS`, more for a large batch); the call stops between two nodes and
   is refused with :class:`ModelBudgetError`. Every ONNX session allocates from one shared
   onnxruntime arena capped at :data:`ONNX_ARENA_BYTES` (:func:`ensure_capped_arena`): an
   allocation past the cap fails at once, before any memory is taken.
3. **scikit-learn (skops) models** run Python code that cannot be interrupted from outside,
   so their speed is measured at load (:func:`check_skops_speed`): a model that would take
   more than :data:`MAX_BATCH_SECONDS` for a report's batch is refused.

Each refusal is a :class:`ModelBudgetError` (a bundle refusal at load, a named refusal of
the case at run time), never a hang, a raw error or the whole server's memory.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from caselens.errors import BundleError

#: The batch the static estimate assumes: a report asks its model once, on every LIME and
#: SHAP row and the case (5,700–8,100 rows for the samples and test bundles), so a graph
#: within budget at 10,000 rows is within budget for a report.
ESTIMATE_ROWS = 10_000
#: Most operations (multiply-adds, comparisons, elements touched) a graph may cost on
#: ESTIMATE_ROWS rows: 1 million per row. A 2,000-tree ensemble of depth 6 costs 14,000
#: per row counted this way; 1e10 operations run for several seconds on one core.
MAX_ONNX_OPERATIONS = 10_000_000_000
#: Most bytes of tensors alive at once on ESTIMATE_ROWS rows (200 kB per row; the test
#: bundles need under 1 kB per row).
MAX_ONNX_WORKING_BYTES = 2 * 1024**3
#: The shared onnxruntime arena every ONNX session allocates from: an allocation that would
#: take it past this fails at once (onnxruntime's BFC arena ``max_mem``), for all ONNX models
#: of the process together.
ONNX_ARENA_BYTES = 4 * 1024**3
#: Shortest time limit of one model call: a report's call takes 5–250 ms on the samples and
#: test bundles, so 10 s is a stall, never a slow model.
MIN_CALL_SECONDS = 10.0
#: Extra time per row asked, for the large batches of a bundle's load (its reference rows).
CALL_SECONDS_PER_ROW = 0.001
#: Longest a skops model may take, projected to ESTIMATE_ROWS rows from its speed on the
#: reference rows at load (the slowest sample, a 5-fold calibrated forest, takes ~0.35 s).
MAX_BATCH_SECONDS = 10.0
#: Bytes counted for one text element or one map entry (their length is not in the shape).
TEXT_ELEMENT_BYTES = 64

# Operators whose output size comes from an input's values: bounded only when shape
# inference knows the output's shape before the graph runs.
_SIZE_FROM_DATA = frozenset(
    {
        "ConstantOfShape",
        "Expand",
        "Tile",
        "Range",
        "Resize",
        "Upsample",
        "Pad",
        "OneHot",
        "CenterCropPad",
        "Col2Im",
        "RandomNormal",
        "RandomUniform",
        "EyeLike",
        "Multinomial",
        "StringSplit",
        "Tokenizer",
    }
)
_MATRIX_PRODUCTS = frozenset({"MatMul", "MatMulInteger", "QLinearMatMul", "Gemm"})
_CONVOLUTIONS = frozenset({"Conv", "ConvInteger", "QLinearConv", "ConvTranspose"})
_TREE_ENSEMBLES = frozenset({"TreeEnsembleClassifier", "TreeEnsembleRegressor", "TreeEnsemble"})
# ONNX element types by size in bytes (TensorProto.DataType numbers).
_ELEMENT_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8}
_STRING_TYPE = 8


class ModelBudgetError(BundleError):
    """A model is over its compute or memory budget: refused at load, or its call stopped.

    ``short`` says it in a few plain words, for the person whose case it is.
    """

    def __init__(
        self, message: str, *, short: str = "it went over its time or memory budget"
    ) -> None:
        super().__init__(message)
        self.short = short


@dataclass(frozen=True)
class OnnxCost:
    """What a graph is estimated to cost on :data:`ESTIMATE_ROWS` rows.

    Attributes
    ----------
    operations : int
        Arithmetic operations and elements touched, over every node.
    working_bytes : int
        The most bytes of tensors (initializers included) alive at one time.
    costliest : str
        The node that costs most, for messages (``op_type 'name'``).
    """

    operations: int
    working_bytes: int
    costliest: str


# --------------------------------------------------------------------------- static estimate


def _dims(value_type: Any) -> list[int] | None:
    """A tensor type's dimensions; None if its rank or any dimension is unknown (the graph's
    inputs were given ESTIMATE_ROWS rows, so an unknown dimension is the data's choice)."""
    if not value_type.HasField("tensor_type"):
        return None
    tensor = value_type.tensor_type
    if not tensor.HasField("shape"):
        return None
    dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]
    return None if any(d < 0 for d in dims) else dims


def _element_bytes(value_type: Any) -> int:
    if value_type.HasField("tensor_type"):
        kind = value_type.tensor_type.elem_type
        return TEXT_ELEMENT_BYTES if kind == _STRING_TYPE else _ELEMENT_BYTES.get(kind, 8)
    return TEXT_ELEMENT_BYTES  # a sequence or a map (a ZipMap's rows of {class: probability})


def _known_shapes(model: Any, rows: int) -> tuple[dict[str, list[int] | None], dict[str, int]]:
    """Every named value's dimensions (None when unknown) and element size, after setting
    each graph input's open dimension to ``rows`` and running ONNX shape inference."""
    import onnx

    sized = onnx.ModelProto()
    sized.CopyFrom(model)
    for value in sized.graph.input:
        if value.type.HasField("tensor_type") and value.type.tensor_type.HasField("shape"):
            for dim in value.type.tensor_type.shape.dim:
                if not dim.HasField("dim_value") or dim.dim_value <= 0:
                    dim.Clear()
                    dim.dim_value = rows
    inferred = onnx.shape_inference.infer_shapes(sized, strict_mode=False, data_prop=True)
    shapes: dict[str, list[int] | None] = {}
    sizes: dict[str, int] = {}

    def collect(graph: Any) -> None:
        for value in [*graph.input, *graph.value_info, *graph.output]:
            shapes[value.name] = _dims(value.type)
            sizes[value.name] = _element_bytes(value.type)
        for tensor in graph.initializer:
            shapes[tensor.name] = list(tensor.dims)
            sizes[tensor.name] = _ELEMENT_BYTES.get(tensor.data_type, TEXT_ELEMENT_BYTES)
        for node in graph.node:
            for attribute in node.attribute:
                for sub in [attribute.g] if attribute.HasField("g") else attribute.graphs:
                    collect(sub)

    collect(inferred.graph)
    return shapes, sizes


def _count(dims: list[int] | None) -> int | None:
    return None if dims is None else math.prod(max(d, 1) for d in dims)


def _tree_path_lengths(attributes: dict[str, Any]) -> int | None:
    """The sum over a tree ensemble's trees of its longest root-to-leaf path (in nodes), from
    the ``nodes_*`` attributes of TreeEnsembleClassifier/Regressor; None if they are absent
    or do not describe trees (a cycle, a child that is not a node)."""
    needed = ("nodes_treeids", "nodes_nodeids", "nodes_truenodeids", "nodes_falsenodeids")
    if not all(name in attributes for name in needed) or "nodes_modes" not in attributes:
        return None
    # As Python lists first: reading a protobuf field value by value is ten times slower.
    trees, ids = list(attributes["nodes_treeids"].ints), list(attributes["nodes_nodeids"].ints)
    yes_ids = list(attributes["nodes_truenodeids"].ints)
    no_ids = list(attributes["nodes_falsenodeids"].ints)
    modes = list(attributes["nodes_modes"].strings)
    if not len(trees) == len(ids) == len(yes_ids) == len(no_ids) == len(modes) > 0:
        return None
    # tree -> node -> its two children (None for a leaf)
    forest: dict[int, dict[int, tuple[int, int] | None]] = {}
    for tree, node, yes, no, mode in zip(trees, ids, yes_ids, no_ids, modes, strict=True):
        forest.setdefault(tree, {})[node] = None if mode == b"LEAF" else (yes, no)
    total = 0
    for nodes in forest.values():
        child_ids = {c for pair in nodes.values() if pair for c in pair}
        roots = [n for n in nodes if n not in child_ids]
        if len(roots) != 1:
            return None
        deepest, stack, seen = 0, [(roots[0], 1)], set()
        while stack:
            node, depth = stack.pop()
            if node not in nodes or node in seen:
                return None  # not a tree: every node is counted instead
            seen.add(node)
            if depth > deepest:
                deepest = depth
            pair = nodes[node]
            if pair is not None:
                stack += [(pair[0], depth + 1), (pair[1], depth + 1)]
        total += deepest
    return total


def _node_name(node: Any) -> str:
    return f"{node.op_type} {node.name!r}" if node.name else node.op_type


class _Estimate:
    """Walks a graph (and its subgraphs) counting operations and live bytes."""

    def __init__(self, shapes: dict[str, list[int] | None], sizes: dict[str, int], rows: int):
        self.shapes = shapes
        self.sizes = sizes
        self.rows = rows
        self.costliest = ("", -1)

    def elements(self, name: str) -> int | None:
        return _count(self.shapes.get(name)) if name else 0

    def graph_operations(self, graph: Any) -> int:
        total = 0
        for node in graph.node:
            cost = self.node_operations(node)
            if cost > self.costliest[1]:
                self.costliest = (_node_name(node), cost)
            total += cost
        return total

    def node_operations(self, node: Any) -> int:
        outputs = [self.elements(o) for o in node.output if o]
        if node.op_type in _SIZE_FROM_DATA and any(n is None for n in outputs):
            raise ModelBudgetError(
                f"node {_node_name(node)} makes a tensor whose size depends on the data, so "
                "its cost cannot be bounded before it runs"
            )
        # An output shape inference could not tell (an ai.onnx.ml operator without shape
        # inference, say) is guessed and kept, so that the nodes after it are counted too.
        for name in node.output:
            if name and self.shapes.get(name) is None:
                self.shapes[name] = self.guess_shape(node)
        out = [self.elements(o) or 0 for o in node.output if o]
        known_in = [n for n in (self.elements(i) for i in node.input if i) if n is not None]
        touched = sum(known_in) + sum(out)
        if node.op_type in _MATRIX_PRODUCTS:
            inner = self.inner_dimension(node)
            return touched + 2 * out[0] * inner if out else touched
        if node.op_type in _CONVOLUTIONS and len(node.input) > 1:
            weight = self.shapes.get(node.input[1]) or []
            per_output = _count(weight[1:]) or 1
            return touched + 2 * (out[0] if out else 0) * per_output
        if node.op_type in _TREE_ENSEMBLES:
            return touched + self.tree_nodes(node) * self.batch_rows(node)
        if node.op_type == "Einsum":
            return touched + 2 * self.einsum_product(node)
        subgraph_cost = 0
        for attribute in node.attribute:
            for sub in [attribute.g] if attribute.HasField("g") else attribute.graphs:
                subgraph_cost += self.graph_operations(sub)
        if node.op_type == "Scan":
            subgraph_cost *= self.scan_trips(node)
        return touched + subgraph_cost

    def guess_shape(self, node: Any) -> list[int]:
        """An unknown output's shape: a matrix product's (rows of its left side, columns of
        its right), otherwise its largest input's, and at least one value per row (the
        operators that can make a tensor larger than their inputs are refused above)."""
        dims = [self.shapes.get(i) for i in node.input if i]
        if node.op_type in _MATRIX_PRODUCTS and len(dims) > 1 and dims[1]:
            trans_b = any(a.name == "transB" and a.i for a in node.attribute)
            columns = dims[1][0] if node.op_type == "Gemm" and trans_b else dims[1][-1]
            left = dims[0] if dims[0] else [self.rows, 1]
            return [*left[:-1], columns] if len(left) > 1 else [self.rows, columns]
        known = [d for d in dims if d is not None]
        widest = max(known, key=lambda d: _count(d) or 0, default=[self.rows, 1])
        if (_count(widest) or 0) >= self.rows:
            return list(widest)
        return [self.rows, max(widest[-1] if widest else 1, 1)]

    def inner_dimension(self, node: Any) -> int:
        left = self.shapes.get(node.input[0]) if node.input else None
        if not left:
            right = self.shapes.get(node.input[1]) if len(node.input) > 1 else None
            return (right[0] if right else self.rows) or 1
        trans_a = any(a.name == "transA" and a.i for a in node.attribute)
        if node.op_type == "Gemm" and trans_a:
            return left[0] or 1
        return left[-1] or 1

    def tree_nodes(self, node: Any) -> int:
        """Nodes one row visits at most: the sum over trees of each tree's depth (a row
        walks one path from root to leaf); every node when the paths cannot be read."""
        attributes = {a.name: a for a in node.attribute}
        total = _tree_path_lengths(attributes)
        if total is not None:
            return total
        counts = [1]
        for name in ("nodes_featureids", "nodes_modes", "nodes_splits"):
            if name in attributes:
                attribute = attributes[name]
                counts += [len(attribute.ints), len(attribute.strings)]
                if attribute.HasField("t"):
                    counts.append(_count(list(attribute.t.dims)) or 1)
        return max(counts)

    def batch_rows(self, node: Any) -> int:
        dims = self.shapes.get(node.input[0]) if node.input else None
        return dims[0] if dims else self.rows

    def einsum_product(self, node: Any) -> int:
        equation = next(
            (a.s.decode("utf-8", "replace") for a in node.attribute if a.name == "equation"), ""
        )
        operands = equation.split("->")[0].split(",")
        sizes: dict[str, int] = {}
        for letters, name in zip(operands, node.input, strict=False):
            dims = self.shapes.get(name)
            letters = letters.strip().replace("...", "")
            if dims is None:
                continue
            for letter, dim in zip(letters, dims[-len(letters) :] if letters else [], strict=False):
                sizes[letter] = max(sizes.get(letter, 1), dim)
        unknown = sum(1 for name in node.input if self.shapes.get(name) is None)
        return math.prod(sizes.values()) * (self.rows**unknown)

    def scan_trips(self, node: Any) -> int:
        scanned = [i for i in node.input[-1:] if i]
        dims = self.shapes.get(scanned[0]) if scanned else None
        if not dims:
            raise ModelBudgetError(
                f"node {_node_name(node)} repeats its body a number of times the graph does "
                "not state, so its cost cannot be bounded before it runs"
            )
        return max(dims[0], 1)

    def working_bytes(self, graph: Any) -> int:
        """The most bytes alive at once, walking the nodes in order: an initializer lives
        throughout, any other value from the node that makes it (or the start, for an
        input) to the last node that reads it (or the end, for an output)."""
        constant = {t.name for t in graph.initializer}
        end = len(graph.node)
        last_use: dict[str, int] = {}
        for index, node in enumerate(graph.node):
            for name in node.output:
                last_use.setdefault(name, index)
            for name in node.input:
                last_use[name] = index
        for value in graph.output:
            last_use[value.name] = end
        held = sum(self.bytes_of(name) for name in constant)
        held += sum(self.bytes_of(i.name) for i in graph.input if i.name not in constant)
        peak = held
        freed_at: dict[int, list[str]] = {}
        for name, index in last_use.items():
            if name and name not in constant:
                freed_at.setdefault(index, []).append(name)
        for index, node in enumerate(graph.node):
            held += sum(self.bytes_of(o) for o in node.output if o)
            peak = max(peak, held)
            held -= sum(self.bytes_of(name) for name in freed_at.get(index, ()))
        return peak

    def bytes_of(self, name: str) -> int:
        count = self.elements(name)
        return (self.rows if count is None else count) * self.sizes.get(name, 8)


def estimate_onnx_cost(model: Any, *, rows: int = ESTIMATE_ROWS) -> OnnxCost:
    """Estimate a parsed ONNX model's operations and peak live bytes on ``rows`` rows.

    Raises
    ------
    ModelBudgetError
        If a node's cost cannot be bounded before it runs (its output size or repeat count
        depends on the data), or shape inference refuses the graph.
    """
    try:
        shapes, sizes = _known_shapes(model, rows)
    except ModelBudgetError:
        raise
    except Exception as exc:  # onnx's InferenceError, a RecursionError on a hostile graph
        raise ModelBudgetError(
            f"its tensor shapes could not be worked out ({type(exc).__name__}: {exc})"[:600]
        ) from exc
    estimate = _Estimate(shapes, sizes, rows)
    operations = estimate.graph_operations(model.graph)
    return OnnxCost(
        operations=operations,
        working_bytes=estimate.working_bytes(model.graph),
        costliest=estimate.costliest[0],
    )


def check_onnx_budget(model: Any, what: str) -> OnnxCost:
    """Refuse a parsed ONNX model over :data:`MAX_ONNX_OPERATIONS` or
    :data:`MAX_ONNX_WORKING_BYTES` on :data:`ESTIMATE_ROWS` rows (``what`` names the file)."""
    try:
        cost = estimate_onnx_cost(model)
    except ModelBudgetError as exc:
        raise ModelBudgetError(f"{what} is refused: {exc}.") from exc
    if cost.operations > MAX_ONNX_OPERATIONS:
        raise ModelBudgetError(
            f"{what} would cost about {cost.operations:.3g} operations for a batch of "
            f"{ESTIMATE_ROWS:,} rows (the most costly node: {cost.costliest}); the budget is "
            f"{MAX_ONNX_OPERATIONS:.3g}. It would run for minutes per call, so it is refused."
        )
    if cost.working_bytes > MAX_ONNX_WORKING_BYTES:
        raise ModelBudgetError(
            f"{what} would hold about {cost.working_bytes / 1024**2:,.0f} MiB of tensors at "
            f"once for a batch of {ESTIMATE_ROWS:,} rows; the budget is "
            f"{MAX_ONNX_WORKING_BYTES / 1024**2:,.0f} MiB, so it is refused."
        )
    return cost


# --------------------------------------------------------------------------- run time


_ARENA_LOCK = threading.Lock()
_ARENA_READY = False


def ensure_capped_arena() -> None:
    """Register, once per process, the onnxruntime CPU arena capped at
    :data:`ONNX_ARENA_BYTES` that every CaseLens session uses (``session.use_env_allocators``)."""
    global _ARENA_READY
    with _ARENA_LOCK:
        if _ARENA_READY:
            return
        import onnxruntime as ort

        # Extend by exactly what is asked (strategy 1): the cap is reached by real need only.
        config = ort.OrtArenaCfg(ONNX_ARENA_BYTES, 1, -1, -1)
        memory = ort.OrtMemoryInfo(
            "Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT
        )
        try:
            ort.create_and_register_allocator(memory, config)
        except Exception as exc:  # already registered in this process (by an earlier import)
            if "already" not in str(exc).lower():
                raise
        _ARENA_READY = True


def call_time_limit(rows: int) -> float:
    """Seconds one model call on ``rows`` rows may take."""
    return max(MIN_CALL_SECONDS, rows * CALL_SECONDS_PER_ROW)


class _Watchdog:
    """One daemon thread that sets ``terminate`` on the run options of overdue calls.

    A thread per call (``threading.Timer``) costs ~0.4 ms to start, as much as a small
    model's whole report overhead; registering with this one costs microseconds.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._deadlines: list[tuple[float, int, Any]] = []
        self._live: dict[int, Any] = {}
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, run_options: Any, seconds: float) -> int:
        ticket = next(self._ids)
        deadline = time.monotonic() + seconds
        with self._condition:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="caselens-model-watchdog", daemon=True
                )
                self._thread.start()
            self._live[ticket] = run_options
            first = not self._deadlines or deadline < self._deadlines[0][0]
            heapq.heappush(self._deadlines, (deadline, ticket, run_options))
            if first:
                self._condition.notify()
        return ticket

    def release(self, ticket: int) -> None:
        with self._condition:
            self._live.pop(ticket, None)

    def _loop(self) -> None:
        with self._condition:
            while True:
                while self._deadlines and self._deadlines[0][1] not in self._live:
                    heapq.heappop(self._deadlines)  # finished in time
                if not self._deadlines:
                    self._condition.wait()
                    continue
                wait = self._deadlines[0][0] - time.monotonic()
                if wait > 0:
                    self._condition.wait(wait)
                    continue
                _, ticket, run_options = heapq.heappop(self._deadlines)
                if self._live.pop(ticket, None) is not None:
                    run_options.terminate = True


_WATCHDOG = _Watchdog()


def run_with_time_limit(
    run: Callable[[Any], Any], rows: int, *, seconds: float | None = None, what: str = "model"
) -> Any:
    """``run(run_options)`` stopped by onnxruntime once it exceeds its time limit.

    Parameters
    ----------
    run : callable
        Calls the session with the ``RunOptions`` it is given.
    rows : int
        Rows asked (the limit is :func:`call_time_limit` of it unless ``seconds`` is given).
    seconds : float, optional
        A limit of the caller's (an operator's setting, a test's).
    what : str
        The model's name, for the refusal.

    Raises
    ------
    ModelBudgetError
        If the call was stopped at its limit, or onnxruntime's arena refused an allocation
        past :data:`ONNX_ARENA_BYTES`.
    """
    import onnxruntime as ort

    limit = call_time_limit(rows) if seconds is None else seconds
    options = ort.RunOptions()
    options.log_severity_level = 4  # a stopped call is reported as a refusal, not a log line
    ticket = _WATCHDOG.watch(options, limit)
    start = time.monotonic()
    try:
        return run(options)
    except Exception as exc:
        text = str(exc)
        if options.terminate or "Exiting due to terminate flag" in text:
            raise ModelBudgetError(
                f"The {what} did not finish within its time limit of {limit:g} s for "
                f"{rows:,} row(s) (stopped after {time.monotonic() - start:.2f} s); the case "
                "is refused rather than left waiting.",
                short=f"it did not finish within its time limit of {limit:g} s",
            ) from exc
        if "Available memory of" in text:  # onnxruntime's BFC arena, at its max_mem
            raise ModelBudgetError(
                f"The {what} asked for more memory than the model memory limit of "
                f"{ONNX_ARENA_BYTES / 1024**3:g} GiB for {rows:,} row(s); refused.",
                short="it asked for more memory than models may use",
            ) from exc
        raise
    finally:
        _WATCHDOG.release(ticket)


# --------------------------------------------------------------------------- skops speed


def check_skops_speed(seconds: float, rows: int, what: str = "The model") -> float:
    """Refuse a model whose measured speed (``seconds`` for ``rows`` rows) projects past
    :data:`MAX_BATCH_SECONDS` for :data:`ESTIMATE_ROWS` rows; return that projection.

    A batch smaller than ESTIMATE_ROWS is scaled up (its fixed cost along with it): the
    load measures a batch of ESTIMATE_ROWS rows, so this happens only for callers who
    measure fewer.
    """
    projected = seconds * max(1.0, ESTIMATE_ROWS / max(rows, 1))
    if projected > MAX_BATCH_SECONDS:
        raise ModelBudgetError(
            f"{what} took {seconds:.2f} s for {rows:,} rows of its reference data: about "
            f"{projected:.1f} s for a report's batch of {ESTIMATE_ROWS:,} rows, over the "
            f"budget of {MAX_BATCH_SECONDS:g} s. It would stall every report, so it is refused."
        )
    return projected
