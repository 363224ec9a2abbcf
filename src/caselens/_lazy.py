"""Lazy package faces: a package names what it offers and loads each part on first use.

A face that imported all its modules at once would make ``import caselens.model.features``
load the whole model package (and ``caselens --help`` load scikit-learn); PEP 562's module
``__getattr__`` lets the face list its names while loading only the module asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_face(
    namespace: dict[str, Any], parts: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for a package whose public names live in its modules.

    Parameters
    ----------
    namespace : dict
        The package's ``globals()``; a name is stored there once loaded.
    parts : mapping
        Public name → the module (relative to the package) that defines it.
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        module = parts.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *parts})

    return __getattr__, __dir__
