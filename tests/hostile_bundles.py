"""Building blocks for hostile model bundles: skops nodes written by hand, and zips that lie.

Each hostile bundle starts as a copy of the sample heart-disease bundle; the model file is
rewritten here and the card's ``model_sha256`` updated to match, so the hash check is never
what refuses it — the check under test is.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import struct
import zipfile
from pathlib import Path
from typing import Any

CARD = "card.json"
MODEL = "model.skops"

# Ids far above any the samples use (skops shares nodes by id).
_ids = itertools.count(10_000_000)

Node = dict[str, Any]


def _node(loader: str, module: str, cls: str, **fields: Any) -> Node:
    return {"__class__": cls, "__module__": module, "__loader__": loader, "__id__": next(_ids)} | (
        fields
    )


def json_node(value: Any) -> Node:
    """A JSON literal (what skops writes for str, int, float, None)."""
    return _node("JsonNode", "builtins", "str", content=json.dumps(value), is_json=True)


def type_node(module: str, name: str) -> Node:
    """A type (or, for builtins such as os.system, a builtin function) held as a value."""
    return _node("TypeNode", module, name)


def function_node(module: str, name: str) -> Node:
    """A function held as a value."""
    return _node("FunctionNode", module, name)


def list_node(items: list[Node]) -> Node:
    return _node("ListNode", "builtins", "list", content=items)


def dict_node(content: dict[str, Node], key_types: list[Node] | None = None) -> Node:
    """A dict; skops rebuilds each key by calling its key type on the stored key."""
    keys = key_types if key_types is not None else [type_node("builtins", "str") for _ in content]
    return _node("DictNode", "builtins", "dict", content=content, key_types=list_node(keys))


def array_node(member: str) -> Node:
    """A numpy array stored in the zip member ``member``."""
    return _node("NdArrayNode", "numpy", "ndarray", type="numpy", file=member)


def method_node(owner: Node, method: str) -> Node:
    """A bound method of ``owner`` (skops requires the node's class to equal the owner's)."""
    return _node(
        "MethodNode",
        owner["__module__"],
        owner["__class__"],
        content={"func": method, "obj": owner},
    )


def object_node(module: str, cls: str, attrs: dict[str, Node]) -> Node:
    """An object rebuilt with ``__new__`` and its attributes."""
    return _node("ObjectNode", module, cls, content=dict_node(attrs))


def nested_lists(inner: Node, depth: int) -> Node:
    """``inner`` wrapped in ``depth`` single-item lists."""
    for _ in range(depth):
        inner = list_node([inner])
    return inner


def read_model(folder: Path, name: str = MODEL) -> tuple[Node, dict[str, bytes]]:
    """The model file's parsed schema and its other members."""
    with zipfile.ZipFile(folder / name) as archive:
        schema = json.loads(archive.read("schema.json"))
        members = {n: archive.read(n) for n in archive.namelist() if n != "schema.json"}
    return schema, members


def first_array_member(members: dict[str, bytes]) -> str:
    return next(name for name in sorted(members) if name.endswith(".npy"))


def zip_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def write_model_bytes(folder: Path, data: bytes, name: str = MODEL) -> Path:
    """Write ``data`` as the model file and point the card (name and hash) at it."""
    path = folder / name
    path.write_bytes(data)
    edit_card(folder, model_file=name, model_sha256=hashlib.sha256(data).hexdigest())
    return path


def write_model(folder: Path, schema: Any, members: dict[str, bytes]) -> Path:
    """Write a model zip from a schema (a parsed tree, or raw bytes) and members."""
    raw = schema if isinstance(schema, bytes) else json.dumps(schema).encode("utf-8")
    return write_model_bytes(folder, zip_bytes({"schema.json": raw, **members}))


def add_attribute(schema: Node, name: str, value: Node) -> Node:
    """Give the top-level estimator one more attribute (keeping keys and key types aligned)."""
    attrs = schema["content"]
    attrs["content"][name] = value
    attrs["key_types"]["content"].append(type_node("builtins", "str"))
    return schema


def edit_card(folder: Path, **changes: Any) -> None:
    card = json.loads((folder / CARD).read_text())
    card.update(changes)
    (folder / CARD).write_text(json.dumps(card))


def streamed_zeros_member(archive: zipfile.ZipFile, name: str, size: int) -> None:
    """Add a member of ``size`` zero bytes, compressed as written (memory stays small)."""
    chunk = bytes(1 << 20)
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w") as handle:
        left = size
        while left > 0:
            handle.write(chunk[: min(left, len(chunk))])
            left -= min(left, len(chunk))


def declare_size(data: bytes, member: str, declared: int) -> bytes:
    """Rewrite a member's uncompressed size in the central directory and local header.

    The content is unchanged, so the member then lies about its size.
    """
    patched = bytearray(data)
    encoded = member.encode("utf-8")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(member)
    # Local header: uncompressed size at offset 22.
    struct.pack_into("<L", patched, info.header_offset + 22, declared)
    # Central directory entry: signature, then the uncompressed size at offset 24.
    position = 0
    while True:
        position = data.index(b"PK\x01\x02", position)
        name_length = struct.unpack_from("<H", data, position + 28)[0]
        if data[position + 46 : position + 46 + name_length] == encoded:
            struct.pack_into("<L", patched, position + 24, declared)
            return bytes(patched)
        position += 4


def files_under(*folders: Path) -> set[Path]:
    """Every file and folder under ``folders`` (to show that loading wrote nothing)."""
    return {path for folder in folders for path in folder.rglob("*")}
