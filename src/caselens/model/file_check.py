"""Checking a skops model file before anything in it is built: bounded, and deny by default.

A skops file is a zip holding ``schema.json`` (a tree of nodes, each naming a class, type,
function, method or operator function) and the arrays the nodes refer to. This module

1. bounds the archive: its size, its number of members, each member's declared size and the
   total, and — reading every member in chunks — that no member inflates beyond what it
   declares (a member that lies about its size is stopped, not inflated);
2. bounds ``schema.json`` in size and nesting depth before it is parsed;
3. walks every node of the schema (iteratively) and checks every name it holds — classes,
   types, functions, bound methods (owner and method name together), operator functions,
   reduce constructors, dictionary key types and numpy bit generators — against CaseLens's
   own allow-list (:mod:`caselens.model.file_trust`). Unknown node kinds and protocol
   versions are refused. The refusal names every offending item;
4. only then asks skops to load the file, trusting exactly those items skops would refuse
   that are on CaseLens's list — never skops' own report handed back as trusted.

The node kinds and their fields are those of skops 0.16 (protocol 2): ``skops/io/_general.py``,
``_numpy.py``, ``_scipy.py``, ``_sklearn.py``.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from collections.abc import Callable
from typing import Any

import skops.io as sio

from caselens.errors import BundleError
from caselens.model.bounded import json_nesting_depth, loads_bounded
from caselens.model.file_trust import TRUSTED_TYPES_FILE_ENV, TrustedNames, trusted_names

#: Largest model file (the zip itself, compressed) CaseLens reads into memory.
MAX_MODEL_FILE_BYTES = 256 * 1024 * 1024
#: Largest sum of the members' uncompressed sizes.
MAX_MODEL_UNCOMPRESSED_BYTES = 512 * 1024 * 1024
#: Largest uncompressed size of any one member (one array).
MAX_MODEL_MEMBER_BYTES = 256 * 1024 * 1024
#: Most members (schema plus arrays) a model zip may hold; a 1,000-tree forest needs ~5,000.
MAX_MODEL_MEMBERS = 20_000
#: Central-directory bytes allowed per member, so the zip index itself is bounded before
#: :mod:`zipfile` builds one object per entry.
CENTRAL_DIRECTORY_BYTES_PER_MEMBER = 256
#: Largest ``schema.json`` (the sample readmission model's is 0.9 MB).
MAX_SCHEMA_BYTES = 32 * 1024 * 1024
#: Deepest ``[``/``{`` nesting of ``schema.json`` (the sample models: 41). skops builds and
#: audits the tree recursively, a few frames per level, so this keeps it far from
#: Python's recursion limit.
MAX_SCHEMA_DEPTH = 200
#: Deepest nesting inside one JSON literal node (skops stores only scalars there).
MAX_JSON_NODE_DEPTH = 8
#: Members are inflated this many bytes at a time, so a lying member is stopped early.
READ_CHUNK_BYTES = 1 << 20
#: skops protocol versions whose node kinds were reviewed for this check.
SUPPORTED_SKOPS_PROTOCOLS: tuple[int, ...] = (2,)
#: The schema member of a skops zip.
SCHEMA_MEMBER = "schema.json"
#: Longest name shown in a refusal (a genuine dotted name is far shorter).
MAX_SHOWN_NAME_CHARS = 200

_END_OF_CENTRAL_DIRECTORY = b"PK\x05\x06"
_ZIP64_END_LOCATOR = b"PK\x06\x07"
_END_RECORD = struct.Struct("<4s4H2LH")
_MAX_ZIP_COMMENT = 0xFFFF


def load_checked_skops(data: bytes, name: str, names: TrustedNames | None = None) -> Any:
    """Load a skops model from its bytes, after every bound and allow-list check passed.

    Parameters
    ----------
    data : bytes
        The model file's content (read once, so what is checked is what is loaded).
    name : str
        The file's name, for messages.
    names : TrustedNames, optional
        The allow-list; default :func:`caselens.model.file_trust.trusted_names`.

    Returns
    -------
    The loaded estimator.

    Raises
    ------
    BundleError
        Naming the file and the limit, the untrusted items (every one), or the load error.
    """
    allowed = trusted_names() if names is None else names
    schema, members = read_model_archive(data, name)
    offences = audit_skops_schema(schema, members, allowed)
    if offences:
        raise BundleError(
            f"The model file {name} contains item(s) that CaseLens does not trust: "
            f"{'; '.join(offences)}. Only the names in caselens.model.file_trust (plus an "
            f"operator's {TRUSTED_TYPES_FILE_ENV}) are loaded; review the model and extend "
            "that list deliberately if it is safe."
        )
    try:
        reported = set(sio.get_untrusted_types(data=data))
    except Exception as exc:  # skops raises many kinds on a damaged file
        raise BundleError(f"The model file {name} could not be read by skops: {exc}.") from exc
    # Defence in depth: anything skops flags that our own walk did not name is still refused.
    leftover = sorted(reported - allowed.every_name())
    if leftover:
        raise BundleError(
            f"The model file {name} contains item(s) that CaseLens does not trust: "
            f"{'; '.join(_shown(item) for item in leftover)} (reported by skops)."
        )
    try:
        model = sio.loads(data, trusted=sorted(reported & allowed.every_name()))
    except Exception as exc:
        raise BundleError(f"The model file {name} could not be loaded: {exc}.") from exc
    check_loaded_model(model, name)
    return model


def read_model_archive(data: bytes, name: str) -> tuple[Any, frozenset[str]]:
    """Check a skops zip's bounds and return its parsed schema and member names.

    Every member is inflated in chunks of :data:`READ_CHUNK_BYTES` and counted; reading
    stops as soon as a member passes its declared size.
    """
    where = f"The model file {name}"
    if len(data) > MAX_MODEL_FILE_BYTES:
        raise BundleError(
            f"{where} is {len(data)} bytes; the limit is {MAX_MODEL_FILE_BYTES} bytes."
        )
    _check_end_record(data, where)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise BundleError(f"{where} is not a readable skops (zip) file: {exc}.") from exc
    with archive:
        infos = archive.infolist()
        _check_declared_sizes(infos, where)
        schema_bytes = b""
        for info in infos:
            content = _inflate_member(archive, info, where, keep=info.filename == SCHEMA_MEMBER)
            if info.filename == SCHEMA_MEMBER:
                schema_bytes = content
    if not any(info.filename == SCHEMA_MEMBER for info in infos):
        raise BundleError(f"{where} is not a skops file: it has no {SCHEMA_MEMBER}.")
    schema = loads_bounded(
        schema_bytes, what=f"{where} ({SCHEMA_MEMBER})", max_depth=MAX_SCHEMA_DEPTH
    )
    return schema, frozenset(info.filename for info in infos)


def _check_end_record(data: bytes, where: str) -> None:
    # zipfile builds one object per central-directory entry before we could count them, so
    # the directory's size is bounded from the end record first.
    start = data.rfind(
        _END_OF_CENTRAL_DIRECTORY, max(0, len(data) - _END_RECORD.size - _MAX_ZIP_COMMENT)
    )
    if start < 0 or start + _END_RECORD.size > len(data):
        raise BundleError(f"{where} is not a readable skops (zip) file: no end record.")
    fields = _END_RECORD.unpack_from(data, start)
    entries, directory_bytes = fields[4], fields[5]
    zip64 = start >= 20 and data[start - 20 : start - 16] == _ZIP64_END_LOCATOR
    if zip64 or entries == 0xFFFF or directory_bytes == 0xFFFFFFFF:
        raise BundleError(
            f"{where} is a ZIP64 archive; a model within CaseLens's limits "
            f"({MAX_MODEL_MEMBERS} members, {MAX_MODEL_UNCOMPRESSED_BYTES} bytes) never needs one."
        )
    if entries > MAX_MODEL_MEMBERS:
        raise BundleError(
            f"{where} has {entries} members; the limit is {MAX_MODEL_MEMBERS} members."
        )
    directory_limit = MAX_MODEL_MEMBERS * CENTRAL_DIRECTORY_BYTES_PER_MEMBER
    if directory_bytes > directory_limit:
        raise BundleError(
            f"{where} has a {directory_bytes}-byte zip directory; the limit is "
            f"{directory_limit} bytes."
        )


def _check_declared_sizes(infos: list[zipfile.ZipInfo], where: str) -> None:
    if len(infos) > MAX_MODEL_MEMBERS:
        raise BundleError(
            f"{where} has {len(infos)} members; the limit is {MAX_MODEL_MEMBERS} members."
        )
    seen: set[str] = set()
    total = 0
    for info in infos:
        shown = _shown(info.filename)
        if info.filename in seen:
            # zipfile would read the last copy and we might have checked another.
            raise BundleError(f"{where} holds the member '{shown}' twice.")
        seen.add(info.filename)
        if info.flag_bits & 0x1:
            raise BundleError(f"{where}: the member '{shown}' is encrypted.")
        limit = MAX_SCHEMA_BYTES if info.filename == SCHEMA_MEMBER else MAX_MODEL_MEMBER_BYTES
        if info.file_size > limit:
            raise BundleError(
                f"{where}: the member '{shown}' declares {info.file_size} bytes uncompressed; "
                f"the limit is {limit} bytes."
            )
        total += info.file_size
        if total > MAX_MODEL_UNCOMPRESSED_BYTES:
            raise BundleError(
                f"{where} declares more than {MAX_MODEL_UNCOMPRESSED_BYTES} bytes uncompressed "
                f"(at least {total}); the limit is {MAX_MODEL_UNCOMPRESSED_BYTES} bytes."
            )


def _inflate_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, *, keep: bool
) -> bytes:
    shown = _shown(info.filename)
    declared = info.file_size
    kept: list[bytes] = []
    inflated = 0
    try:
        with archive.open(info) as handle:
            while chunk := handle.read(READ_CHUNK_BYTES):
                inflated += len(chunk)
                if inflated > declared:
                    raise BundleError(
                        f"{where}: the member '{shown}' inflates beyond its declared size of "
                        f"{declared} bytes (read {inflated}); reading stopped."
                    )
                if keep:
                    kept.append(chunk)
    except BundleError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
            OSError, ValueError) as exc:  # fmt: skip
        # zipfile stops at the declared size itself; the CRC then fails for a lying member.
        raise BundleError(
            f"{where}: the member '{shown}' is damaged or does not match its declared size of "
            f"{declared} bytes (read {inflated}): {exc}."
        ) from exc
    if inflated != declared:
        raise BundleError(
            f"{where}: the member '{shown}' holds {inflated} bytes but declares {declared}."
        )
    return b"".join(kept)


def _shown(name: object) -> str:
    """A name from the file, safe to show: printable and of bounded length."""
    text = name if isinstance(name, str) else repr(name)
    if not text.isprintable():
        text = repr(text)
    if len(text) > MAX_SHOWN_NAME_CHARS:
        text = text[: MAX_SHOWN_NAME_CHARS - 3] + "..."
    return text


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
            self.problems.add(f"{what} refers to a missing member {_shown(file_name)}")

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
                    f"skops protocol {_shown(protocol)} (CaseLens reads protocol(s) "
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
                f"a node without a string kind, module and class ({_shown(loader)}, "
                f"{_shown(module)}, {_shown(cls)})"
            )
            return
        name = f"{module}.{cls}"
        node_id = node.get("__id__")
        if node_id is not None:
            if isinstance(node_id, bool) or not isinstance(node_id, int):
                self.problems.add(f"node {_shown(name)} has a non-integer id")
            elif self.ids.setdefault(node_id, (loader, module, cls)) != (loader, module, cls):
                # skops reuses the first node built for an id: an id shared by two different
                # nodes would let a checked node stand where another was expected.
                self.problems.add(f"object id {node_id} is used for two different nodes")
        rule = _NODE_RULES.get(loader)
        if rule is None:
            self.problems.add(f"unknown node kind {_shown(loader)} (for {_shown(name)})")
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
            self.problems.add(f"array {name} has unknown storage {_shown(kind)}")

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
                f"sparse matrix {name} has unknown storage {_shown(node.get('type'))}"
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
    return _shown(loader)


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
    return sorted(f"{kind} {_shown(name)}" for kind, name in audit.untrusted) + sorted(
        audit.problems
    )


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
