"""Every node of a skops ``schema.json`` walked (iteratively) and every name it holds checked
against CaseLens's allow-list (:mod:`caselens.model.file_trust`): deny by default.

The node kinds and their fields are those of skops 0.16 (protocol 2): ``skops/io/_general.py``,
``_numpy.py``, ``_scipy.py``, ``_sklearn.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from caselens.model.bounded import json_nesting_depth
from caselens.model.file_trust import TrustedNames
from caselens.model.skops_archive import shown_name

#: Deepest nesting inside one JSON literal node (skops stores only scalars there).
MAX_JSON_NODE_DEPTH = 8

#: skops protocol versions whose node kinds were reviewed for this check.
SUPPORTED_SKOPS_PROTOCOLS: tuple[int, ...] = (2,)


class _Audit:
    """One walk over a schema: collects every untrusted item and every malformed node."""

    def __init__(self, members: frozenset[str], names: TrustedNames) -> None:
        self.members = members
        self.names = names
        self.untrusted: set[tuple[str, str]] = set()
        self.problems: set[str] = set()
        self.ids: dict[int, tuple[str, str, str]] = {}

    # -- the checks a node's fields need ------------------------------------------------
    def check(self, kind: str, name: str, allowed: frozenset[str]) -> None:
        if name not in allowed:
            self.untrusted.add((kind, name))

    def member(self, node: dict[str, Any], what: str) -> None:
        file_name = node.get("file")
        if not isinstance(file_name, str) or file_name not in self.members:
            self.problems.add(f"{what} refers to a missing member {shown_name(file_name)}")

    def node_dict(self, value: Any, what: str) -> dict[str, Any] | None:
        if isinstance(value, dict) and isinstance(value.get("__loader__"), str):
            return value
        self.problems.add(f"{what} is not a node")
        return None

    def json_literal(self, node: dict[str, Any], what: str) -> Any:
        content = node.get("content")
        if not isinstance(content, str):
            self.problems.add(f"{what} has no JSON text")
            return None
        depth = json_nesting_depth(content)
        if depth > MAX_JSON_NODE_DEPTH:
            self.problems.add(f"{what} nests {depth} levels deep (limit {MAX_JSON_NODE_DEPTH})")
            return None
        try:
            return json.loads(content)
        except (json.JSONDecodeError, RecursionError):
            self.problems.add(f"{what} holds invalid JSON")
            return None

    # -- the walk ---------------------------------------------------------------------
    def walk(self, schema: Any) -> None:
        if not isinstance(schema, dict) or not isinstance(schema.get("__loader__"), str):
            self.problems.add("the schema's top level is not a node")
        else:
            protocol = schema.get("protocol")
            if (
                isinstance(protocol, bool)
                or not isinstance(protocol, int)
                or protocol not in SUPPORTED_SKOPS_PROTOCOLS
            ):
                self.problems.add(
                    f"skops protocol {shown_name(protocol)} (CaseLens reads protocol(s) "
                    f"{', '.join(map(str, SUPPORTED_SKOPS_PROTOCOLS))})"
                )
        # Every dict and list in the schema is visited, not only where skops would look,
        # so no node escapes the check whatever position it was hidden in.
        stack: list[Any] = [schema]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if "__loader__" in item:
                    self.node(item)
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)

    def node(self, node: dict[str, Any]) -> None:
        loader, module, cls = node.get("__loader__"), node.get("__module__"), node.get("__class__")
        if not all(isinstance(part, str) for part in (loader, module, cls)):
            self.problems.add(
                f"a node without a string kind, module and class ({shown_name(loader)}, "
                f"{shown_name(module)}, {shown_name(cls)})"
            )
            return
        name = f"{module}.{cls}"
        node_id = node.get("__id__")
        if node_id is not None:
            if isinstance(node_id, bool) or not isinstance(node_id, int):
                self.problems.add(f"node {shown_name(name)} has a non-integer id")
            elif self.ids.setdefault(node_id, (loader, module, cls)) != (loader, module, cls):
                # skops reuses the first node built for an id: an id shared by two different
                # nodes would let a checked node stand where another was expected.
                self.problems.add(f"object id {node_id} is used for two different nodes")
        rule = _NODE_RULES.get(loader)
        if rule is None:
            self.problems.add(f"unknown node kind {shown_name(loader)} (for {shown_name(name)})")
            return
        rule(self, node, name)

    # -- one method per node kind skops 0.16 writes -------------------------------------
    def object_node(self, node: dict[str, Any], name: str) -> None:
        self.check("class", name, self.names.types)

    def reduce_constructor(self, node: dict[str, Any], name: str) -> None:
        # The class named is called with arguments from the file.
        self.check("reduce constructor", name, self.names.types)

    def dict_node(self, node: dict[str, Any], name: str) -> None:
        self.check("class", name, self.names.types)
        content = node.get("content")
        key_types = self.node_dict(node.get("key_types"), f"the key types of {name}")
        if not isinstance(content, dict):
            self.problems.add(f"dictionary {name} has no content")
            return
        if key_types is None:
            return
        items = key_types.get("content")
        if key_types.get("__loader__") != "ListNode" or not isinstance(items, list):
            self.problems.add(f"the key types of {name} are not a list")
            return
        if len(items) != len(content):
            self.problems.add(
                f"dictionary {name} has {len(content)} keys but {len(items)} key types"
            )
        for item in items:
            # skops calls each key type on a stored key: only plain types may stand here.
            if not isinstance(item, dict) or item.get("__loader__") != "TypeNode":
                self.untrusted.add(("key type", f"(a {_loader_of(item)} node)"))
                continue
            self.check("key type", f"{item.get('__module__')}.{item.get('__class__')}",
                       self.names.key_types)  # fmt: skip

    def container_node(self, node: dict[str, Any], name: str) -> None:
        self.check("class", name, self.names.types)
        if not isinstance(node.get("content"), list):
            self.problems.add(f"container {name} has no list content")

    def bytes_node(self, node: dict[str, Any], name: str) -> None:
        self.check("class", name, self.names.types)
        self.member(node, f"bytes node {name}")

    def slice_node(self, node: dict[str, Any], name: str) -> None:
        self.check("class", name, self.names.types)
        content = node.get("content")
        if not isinstance(content, dict) or not all(
            value is None or (isinstance(value, int) and not isinstance(value, bool))
            for value in (content.get("start"), content.get("stop"), content.get("step"))
        ):
            self.problems.add(f"slice {name} is not made of integers")

    def function_node(self, node: dict[str, Any], name: str) -> None:
        self.check("function", name, self.names.functions)

    def method_node(self, node: dict[str, Any], name: str) -> None:
        content = node.get("content")
        if not isinstance(content, dict) or not isinstance(content.get("func"), str):
            self.problems.add(f"method node on {name} has no method name")
            self.untrusted.add(("method", f"{name}.?"))
            return
        owner = self.node_dict(content.get("obj"), f"the owner of method {name}")
        if owner is not None and (owner.get("__module__"), owner.get("__class__")) != (
            node["__module__"],
            node["__class__"],
        ):
            self.problems.add(f"method node on {name} is bound to an object of another class")
        # Owner and method together: a trusted class does not make all its methods safe.
        self.check("method", f"{name}.{content['func']}", self.names.methods)

    def partial_node(self, node: dict[str, Any], name: str) -> None:
        self.check("class", name, self.names.types)
        content = node.get("content")
        if not isinstance(content, dict) or not all(
            key in content for key in ("func", "args", "kwds", "namespace")
        ):
            self.problems.add(f"partial {name} lacks func, args, kwds or namespace")

    def type_node(self, node: dict[str, Any], name: str) -> None:
        # Key types are plain scalar types; a TypeNode may also stand in a key-type list.
        self.check("type", name, self.names.types | self.names.key_types)

    def json_node(self, node: dict[str, Any], name: str) -> None:
        self.check("class", name, self.names.types)
        self.json_literal(node, f"JSON literal {name}")

    def ndarray_node(self, node: dict[str, Any], name: str) -> None:
        # A class other than numpy.ndarray is called on the loaded array.
        self.check("class", name, self.names.types)
        kind = node.get("type")
        if kind == "numpy":
            self.member(node, f"array {name}")
        elif kind == "json":
            if not isinstance(node.get("content"), list):
                self.problems.add(f"object array {name} has no list content")
            self.node_dict(node.get("shape"), f"the shape of array {name}")
        else:
            self.problems.add(f"array {name} has unknown storage {shown_name(kind)}")

    def random_generator_node(self, node: dict[str, Any], name: str) -> None:
        self.check("class", name, self.names.types)
        # numpy names the bit generator class as a string inside the state and skops calls
        # numpy.random.<that name>: it is checked like any other class.
        try:
            literal = node["content"]["bit_generator"]["content"]["bit_generator"]
        except (KeyError, TypeError):
            literal = None
        bit_generator = (
            self.json_literal(literal, f"the bit generator of {name}")
            if isinstance(literal, dict)
            else None
        )
        if not isinstance(bit_generator, str):
            self.problems.add(f"random generator {name} does not name its bit generator")
            return
        self.check("bit generator", f"numpy.random.{bit_generator}", self.names.types)

    def sparse_node(self, node: dict[str, Any], name: str) -> None:
        self.check("class", name, self.names.types)
        if node.get("type") != "scipy":
            self.problems.add(
                f"sparse matrix {name} has unknown storage {shown_name(node.get('type'))}"
            )
        self.member(node, f"sparse matrix {name}")

    def tree_node(self, node: dict[str, Any], name: str) -> None:
        self.check("class", name, self.names.types)
        # skops rebuilds a TreeNode with sklearn's Tree whatever the node says.
        self.check("reduce constructor", "sklearn.tree._tree.Tree", self.names.types)
        self.reduce_fields(node, name)

    def loss_node(self, node: dict[str, Any], name: str) -> None:
        # skops calls the class the node names with the stored arguments.
        self.check("reduce constructor", name, self.names.types)
        self.reduce_fields(node, name)

    def reduce_fields(self, node: dict[str, Any], name: str) -> None:
        reduce = node.get("__reduce__")
        if not isinstance(reduce, dict) or "args" not in reduce or "content" not in node:
            self.problems.add(f"reduce node {name} lacks its arguments or state")

    def operator_node(self, node: dict[str, Any], name: str) -> None:
        if node["__module__"] != "operator":
            self.problems.add(f"operator function {name} is not from the operator module")
        self.check("operator function", name, self.names.operator_functions)


def _loader_of(item: Any) -> str:
    loader = item.get("__loader__") if isinstance(item, dict) else type(item).__name__
    return shown_name(loader)


#: Every node kind skops 0.16 writes, with its check. Anything else (CachedNode,
#: QuantileForestNode, old or future kinds) is refused as unknown.
_NODE_RULES: dict[str, Callable[[_Audit, dict[str, Any], str], None]] = {
    "ObjectNode": _Audit.object_node,
    "ConstructorFromReduceNode": _Audit.reduce_constructor,
    "DictNode": _Audit.dict_node,
    "DefaultDictNode": _Audit.object_node,
    "ListNode": _Audit.container_node,
    "SetNode": _Audit.container_node,
    "TupleNode": _Audit.container_node,
    "BytesNode": _Audit.bytes_node,
    "BytearrayNode": _Audit.bytes_node,
    "SliceNode": _Audit.slice_node,
    "FunctionNode": _Audit.function_node,
    "MethodNode": _Audit.method_node,
    "PartialNode": _Audit.partial_node,
    "TypeNode": _Audit.type_node,
    "JsonNode": _Audit.json_node,
    "NdArrayNode": _Audit.ndarray_node,
    "MaskedArrayNode": _Audit.object_node,
    "DTypeNode": _Audit.object_node,
    "RandomStateNode": _Audit.object_node,
    "RandomGeneratorNode": _Audit.random_generator_node,
    "SparseMatrixNode": _Audit.sparse_node,
    "TreeNode": _Audit.tree_node,
    "LossNode": _Audit.loss_node,
    "OperatorFuncNode": _Audit.operator_node,
}


def audit_skops_schema(schema: Any, members: frozenset[str], names: TrustedNames) -> list[str]:
    """Every untrusted item and malformed node in a skops schema, as readable phrases.

    Parameters
    ----------
    schema : object
        The parsed ``schema.json``.
    members : frozenset of str
        The zip's member names (array files a node refers to must exist).
    names : TrustedNames
        The allow-list.

    Returns
    -------
    list of str
        Sorted phrases such as ``"method numpy.ndarray.tofile"``; empty if the file may load.
    """
    audit = _Audit(members, names)
    audit.walk(schema)
    return sorted(f"{kind} {shown_name(name)}" for kind, name in audit.untrusted) + sorted(
        audit.problems
    )
