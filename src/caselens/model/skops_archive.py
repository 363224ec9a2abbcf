"""A skops model file's zip bounded before it is trusted: its size, its number of members,
each member's declared size and the total, every member inflated in chunks (one that lies
about its size is stopped), and ``schema.json``'s size and nesting depth.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from typing import Any

from caselens.errors import BundleError
from caselens.model.bounded import loads_bounded

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
#: Members are inflated this many bytes at a time, so a lying member is stopped early.
READ_CHUNK_BYTES = 1 << 20
#: The schema member of a skops zip.
SCHEMA_MEMBER = "schema.json"

_END_OF_CENTRAL_DIRECTORY = b"PK\x05\x06"
_ZIP64_END_LOCATOR = b"PK\x06\x07"
_END_RECORD = struct.Struct("<4s4H2LH")
_MAX_ZIP_COMMENT = 0xFFFF

#: Longest name shown in a refusal (a genuine dotted name is far shorter).
MAX_SHOWN_NAME_CHARS = 200


def shown_name(name: object) -> str:
    """A name from the file, safe to show: printable and of bounded length."""
    text = name if isinstance(name, str) else repr(name)
    if not text.isprintable():
        text = repr(text)
    if len(text) > MAX_SHOWN_NAME_CHARS:
        text = text[: MAX_SHOWN_NAME_CHARS - 3] + "..."
    return text


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
        shown = shown_name(info.filename)
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
    shown = shown_name(info.filename)
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
