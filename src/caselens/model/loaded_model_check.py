"""A loaded model's tree arrays checked before it predicts: indices that compiled code follows
without bounds checks must point inside their arrays and the input.
"""

from __future__ import annotations

from typing import Any

from caselens.errors import BundleError

# -- after loading: arrays that compiled code indexes without bounds checks ------------------
#
# skops can check that a file holds only trusted classes, not that their arrays are sound.
# scikit-learn's tree code (``Tree``, HistGradientBoosting's ``TreePredictor``) follows child
# and feature indices stored in the file without bounds checks, so a crafted file could make
# prediction read outside an array and crash the server. Every such object in a loaded model
# is checked here, with the feature count of the tree-based estimators above it.


def check_loaded_model(model: Any, name: str) -> None:
    """Refuse a loaded model whose tree arrays point outside themselves or the input.

    Parameters
    ----------
    model : estimator
        What :func:`load_checked_skops` returned.
    name : str
        The model file's name, for messages.

    Raises
    ------
    BundleError
        Naming the estimator's tree and what is out of range.
    """
    import numpy as np
    from sklearn.ensemble._forest import BaseForest
    from sklearn.ensemble._gb import BaseGradientBoosting
    from sklearn.ensemble._hist_gradient_boosting.gradient_boosting import (
        BaseHistGradientBoosting,
    )
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.tree._classes import BaseDecisionTree
    from sklearn.tree._tree import Tree

    tree_estimators = (BaseDecisionTree, BaseForest, BaseGradientBoosting, BaseHistGradientBoosting)
    seen: set[tuple[int, tuple[int, ...]]] = set()
    # (object, feature counts of the tree-based estimators it sits under)
    stack: list[tuple[Any, tuple[int, ...]]] = [(model, ())]
    while stack:
        item, widths = stack.pop()
        key = (id(item), widths)
        if key in seen:
            continue
        seen.add(key)
        if isinstance(item, Tree):
            _check_tree(item, widths, name)
        elif isinstance(item, TreePredictor):
            _check_predictor(item, widths, name)
        elif isinstance(item, dict):
            stack.extend((value, widths) for value in item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend((value, widths) for value in item)
        elif isinstance(item, np.ndarray):
            if item.dtype == object:
                stack.extend((value, widths) for value in item.ravel().tolist())
        elif hasattr(item, "__dict__"):
            width = getattr(item, "n_features_in_", None)
            if isinstance(item, tree_estimators) and isinstance(width, int):
                widths = (*widths, width)
            stack.extend((value, widths) for value in vars(item).values())


def _out_of_range(where: str, name: str, what: str) -> BundleError:
    return BundleError(
        f"The model file {name}: {where} {what}; the model is refused (its compiled "
        "prediction code would read outside its arrays)."
    )


def _check_children(left: Any, right: Any, leaf: Any, where: str, name: str) -> None:
    import numpy as np

    count = len(left)
    inner = np.flatnonzero(~leaf)
    # Children are numbered after their parent when a tree is built: this also rules out loops.
    for side, children in (("left", left), ("right", right)):
        bad = inner[(children[inner] <= inner) | (children[inner] >= count)]
        if bad.size:
            raise _out_of_range(where, name, f"node {int(bad[0])} has a {side} child out of range")


def _check_features(
    features: Any, leaf: Any, widths: tuple[int, ...], where: str, name: str
) -> None:
    if not widths:
        raise _out_of_range(where, name, "is not inside a tree-based estimator")
    used = features[~leaf]
    if used.size and (int(used.min()) < 0 or int(used.max()) >= min(widths)):
        raise _out_of_range(
            where,
            name,
            f"splits on feature {int(used.max())} (or a negative one) with {min(widths)} "
            "input feature(s)",
        )


def _check_tree(tree: Any, widths: tuple[int, ...], name: str) -> None:
    where = "a decision tree"
    count = int(tree.node_count)
    left, right, features = tree.children_left, tree.children_right, tree.feature
    if not (len(left) == len(right) == len(features) == count) or count < 1:
        raise _out_of_range(where, name, "has arrays whose length is not its node count")
    if any(width != int(tree.n_features) for width in widths):
        raise _out_of_range(
            where, name, f"declares {int(tree.n_features)} features, its estimator {widths}"
        )
    leaf = left == -1
    if (right[leaf] != -1).any():
        raise _out_of_range(where, name, "has a node with only one child")
    _check_children(left, right, leaf, where, name)
    _check_features(features, leaf, (int(tree.n_features), *widths), where, name)
    if tree.value.shape[0] != count:
        raise _out_of_range(where, name, "has a value array whose length is not its node count")


def _check_predictor(predictor: Any, widths: tuple[int, ...], name: str) -> None:
    where = "a histogram gradient-boosting tree"
    nodes = predictor.nodes
    if len(nodes) < 1:
        raise _out_of_range(where, name, "has no nodes")
    leaf = nodes["is_leaf"].astype(bool)
    _check_children(nodes["left"], nodes["right"], leaf, where, name)
    _check_features(nodes["feature_idx"], leaf, widths, where, name)
    categorical = (~leaf) & nodes["is_categorical"].astype(bool)
    bitsets = len(predictor.raw_left_cat_bitsets)
    if categorical.any() and int(nodes["bitset_idx"][categorical].max()) >= bitsets:
        raise _out_of_range(where, name, "refers to a category bitset out of range")
