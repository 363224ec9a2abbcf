"""What an explanation runs on: the library versions it records, and one thread for the
model's native code."""

from __future__ import annotations

import contextlib
import functools
import math
import platform
from typing import Any

import numpy as np
import pandas as pd
import sklearn


@functools.cache
def _library_version() -> str:
    # Package metadata, not imports: importing shap costs seconds and is not needed here.
    return (
        f"python {platform.python_version()}; numpy {np.__version__}; "
        f"pandas {pd.__version__}; scikit-learn {sklearn.__version__}; "
        f"shap {_dist_version('shap')} (installed; its explainers are not called); "
        f"lime {_dist_version('lime')}"
    )


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:  # pragma: no cover - lime is a pinned dependency
        return "unknown"


@functools.cache
def _thread_controller() -> Any:
    # Scanning the loaded native libraries takes milliseconds: do it once.
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _model_threads(
    single_threaded: bool, *, every_api: bool = False
) -> contextlib.AbstractContextManager:
    """One thread for the model's OpenMP code (and, with ``every_api``, its BLAS too)."""
    if not single_threaded:
        return contextlib.nullcontext()
    if every_api:
        return _thread_controller().limit(limits=1)
    return _thread_controller().limit(limits=1, user_api="openmp")


def _finite_or_none(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
