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

Steps 1-2 are :mod:`.skops_archive`, step 3 :mod:`.skops_audit`, and the check of the loaded
model's tree arrays :mod:`.loaded_model_check`; this module runs them in order.
"""

from __future__ import annotations

from typing import Any

import skops.io as sio

from caselens.errors import BundleError
from caselens.model.file_trust import TRUSTED_TYPES_FILE_ENV, TrustedNames, trusted_names
from caselens.model.loaded_model_check import check_loaded_model
from caselens.model.skops_archive import (
    CENTRAL_DIRECTORY_BYTES_PER_MEMBER,
    MAX_MODEL_FILE_BYTES,
    MAX_MODEL_MEMBER_BYTES,
    MAX_MODEL_MEMBERS,
    MAX_MODEL_UNCOMPRESSED_BYTES,
    MAX_SCHEMA_BYTES,
    MAX_SCHEMA_DEPTH,
    MAX_SHOWN_NAME_CHARS,
    READ_CHUNK_BYTES,
    SCHEMA_MEMBER,
    read_model_archive,
    shown_name,
)
from caselens.model.skops_audit import (
    MAX_JSON_NODE_DEPTH,
    SUPPORTED_SKOPS_PROTOCOLS,
    audit_skops_schema,
)

# The names callers import from here; the archive bounds, the schema audit and the check
# after loading each live in their own module.
__all__ = [
    "CENTRAL_DIRECTORY_BYTES_PER_MEMBER",
    "MAX_JSON_NODE_DEPTH",
    "MAX_MODEL_FILE_BYTES",
    "MAX_MODEL_MEMBERS",
    "MAX_MODEL_MEMBER_BYTES",
    "MAX_MODEL_UNCOMPRESSED_BYTES",
    "MAX_SCHEMA_BYTES",
    "MAX_SCHEMA_DEPTH",
    "MAX_SHOWN_NAME_CHARS",
    "READ_CHUNK_BYTES",
    "SCHEMA_MEMBER",
    "SUPPORTED_SKOPS_PROTOCOLS",
    "audit_skops_schema",
    "check_loaded_model",
    "load_checked_skops",
    "read_model_archive",
]


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
            f"{'; '.join(shown_name(item) for item in leftover)} (reported by skops)."
        )
    try:
        model = sio.loads(data, trusted=sorted(reported & allowed.every_name()))
    except Exception as exc:
        raise BundleError(f"The model file {name} could not be loaded: {exc}.") from exc
    check_loaded_model(model, name)
    return model
