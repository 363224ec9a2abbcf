"""Small ONNX graphs built at test time with ``onnx.helper``: bombs, slow and wide graphs, and
models whose answers are not probabilities (for tests/model/test_model_budget.py)."""

from __future__ import annotations

import json

import numpy as np
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 17)]
FLOAT = TensorProto.FLOAT


def _model(nodes, inputs, initializers=(), *, features=None, output="probabilities") -> bytes:
    """A binary classifier graph: ``nodes`` end in ``output``, of shape (rows, 2)."""
    graph = helper.make_graph(
        nodes,
        "test-graph",
        [helper.make_tensor_value_info(name, FLOAT, [None, 1]) for name in inputs],
        [helper.make_tensor_value_info(output, FLOAT, [None, 2])],
        list(initializers),
    )
    model = helper.make_model(graph, opset_imports=OPSET)
    meta = {
        "caselens.classes": json.dumps([0, 1]),
        "caselens.calibration_method": "none",
        "caselens.feature_names": json.dumps(features or list(inputs)),
    }
    helper.set_model_props(model, meta)
    return model.SerializeToString()


def _const(name: str, values, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def _two_classes(p: str, out: str = "probabilities") -> list:
    """Nodes turning a (rows, 1) probability ``p`` into (rows, 2): [1 - p, p]."""
    return [
        helper.make_node("Sub", ["one", p], ["not_p"]),
        helper.make_node("Concat", ["not_p", p], [out], axis=1),
    ]


def matmul_bomb(size: int = 1024, products: int = 400) -> bytes:
    """The issue's bomb: a ``size``² matrix made by ConstantOfShape, multiplied ``products``
    times (no Loop, a few hundred nodes, ~11 kB). onnxruntime folds it while loading:
    about a minute on this machine for the default size."""
    nodes = [
        helper.make_node(
            "ConstantOfShape",
            ["shape"],
            ["m0"],
            value=helper.make_tensor("v", FLOAT, [1], [0.001]),
        )
    ]
    for i in range(products):
        nodes.append(helper.make_node("MatMul", [f"m{i}", "m0"], [f"m{i + 1}"]))
    nodes += [
        helper.make_node("ReduceMean", [f"m{products}"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["x", "mean"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["p"]),
        *_two_classes("p"),
    ]
    init = [_const("shape", [size, size], np.int64), _const("one", [1.0])]
    return _model(nodes, ["x"], init)


def memory_bomb(elements: int = 1 << 32) -> bytes:
    """One ConstantOfShape of ``elements`` floats (16 GiB by default), reduced to a number."""
    nodes = [
        helper.make_node(
            "ConstantOfShape", ["shape"], ["big"], value=helper.make_tensor("v", FLOAT, [1], [0.0])
        ),
        helper.make_node("ReduceSum", ["big"], ["total"], keepdims=0),
        helper.make_node("Add", ["x", "total"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["p"]),
        *_two_classes("p"),
    ]
    return _model(nodes, ["x"], [_const("shape", [elements], np.int64), _const("one", [1.0])])


def sized_by_data() -> bytes:
    """A ConstantOfShape whose length is the largest value of the input: its size (and time)
    is the data's choice, so no estimate can bound it."""
    nodes = [
        helper.make_node("ReduceMax", ["x"], ["top"], keepdims=0),
        helper.make_node("Cast", ["top"], ["length"], to=TensorProto.INT64),
        helper.make_node("Reshape", ["length", "one_dim"], ["shape"]),
        helper.make_node(
            "ConstantOfShape", ["shape"], ["big"], value=helper.make_tensor("v", FLOAT, [1], [0.0])
        ),
        helper.make_node("ReduceSum", ["big"], ["total"], keepdims=0),
        helper.make_node("Add", ["x", "total"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["p"]),
        *_two_classes("p"),
    ]
    init = [_const("one_dim", [1], np.int64), _const("one", [1.0])]
    return _model(nodes, ["x"], init)


def matrix_chain(width: int = 64, products: int = 100) -> bytes:
    """Within budget, and slow on a large enough batch: x (rows, 1) widened to ``width``
    columns and multiplied ``products`` times by a ``width``² matrix (from the rows: nothing
    for onnxruntime to fold at load), then a softmax over two columns."""
    nodes = [helper.make_node("MatMul", ["x", "widen"], ["h0"])]
    for i in range(products):
        nodes.append(helper.make_node("MatMul", [f"h{i}", "mix"], [f"h{i + 1}"]))
    nodes += [
        helper.make_node("MatMul", [f"h{products}", "narrow"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    init = [
        _const("widen", np.full((1, width), 1.0)),
        _const("mix", np.full((width, width), 1.0 / width)),
        _const("narrow", np.linspace(-1, 1, 2 * width).reshape(width, 2) / width),
    ]
    return _model(nodes, ["x"], init)


def wide_rows(width: int = 40_000) -> bytes:
    """Each row widened to ``width`` floats (160 kB a row for the default): within the
    estimate's budget at its 10,000 rows, past the arena's cap on 30,000 rows."""
    nodes = [
        helper.make_node("MatMul", ["x", "widen"], ["wide"]),
        helper.make_node("ReduceMean", ["wide"], ["z"], axes=[1], keepdims=1),
        helper.make_node("Sigmoid", ["z"], ["p"]),
        *_two_classes("p"),
    ]
    init = [_const("widen", np.full((1, width), 1.0 / width)), _const("one", [1.0])]
    return _model(nodes, ["x"], init)


def logistic(*, nan_band: tuple[float, float] | None = None, scale: float = 1.0) -> bytes:
    """A logistic model of ``age`` and ``creatinine``: p = sigmoid(0.04 (age - 64) + 1.1 log
    creatinine - 1); both columns times ``scale`` (not 1: rows that do not sum to 1, or
    negative ones);
    with ``nan_band`` = (low, high), NaN for a creatinine strictly inside the band."""
    nodes = [
        helper.make_node("Sub", ["age", "mid_age"], ["age_c"]),
        helper.make_node("Mul", ["age_c", "age_w"], ["age_t"]),
        helper.make_node("Log", ["creatinine"], ["log_cr"]),
        helper.make_node("Mul", ["log_cr", "cr_w"], ["cr_t"]),
        helper.make_node("Add", ["age_t", "cr_t"], ["z0"]),
        helper.make_node("Add", ["z0", "bias"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["p"]),
        *_two_classes("p", "pair"),
        helper.make_node("Mul", ["pair", "scale"], ["scaled"]),
    ]
    init = [
        _const("mid_age", [64.0]),
        _const("age_w", [0.04]),
        _const("cr_w", [1.1]),
        _const("bias", [-1.0]),
        _const("scale", [scale]),
        _const("one", [1.0]),
    ]
    if nan_band is None:
        nodes.append(helper.make_node("Identity", ["scaled"], ["probabilities"]))
    else:
        nodes += [
            helper.make_node("Greater", ["creatinine", "low"], ["above"]),
            helper.make_node("Less", ["creatinine", "high"], ["below"]),
            helper.make_node("And", ["above", "below"], ["inside"]),
            helper.make_node("Where", ["inside", "nan", "scaled"], ["probabilities"]),
        ]
        init += [_const("low", [nan_band[0]]), _const("high", [nan_band[1]])]
        init.append(_const("nan", [np.nan]))
    return _model(nodes, ["age", "creatinine"], init)
