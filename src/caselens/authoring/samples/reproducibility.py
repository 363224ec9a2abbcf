"""Does a rebuilt sample bundle reproduce the committed one? (``caselens samples build --check``)

What must hold on every machine: the data files and the feature schema are byte-identical,
the card is identical but for the model file's hash, and the rebuilt model gives the same
probabilities as the committed one on every reference and calibration row, within
:data:`~caselens.numeric_tolerance.NUMERIC_TOLERANCE`. The model file itself is byte-identical
only on a machine whose CPU and BLAS sum floats in the same order as the one that built it,
so that is reported, not required.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from caselens.model.bundle import (
    CALIBRATION_FILE,
    CARD_FILE,
    DEMO_CASES_FILE,
    FEATURES_FILE,
    REFERENCE_FILE,
    SKOPS_MODEL_FILE,
    ModelBundle,
    load_bundle,
    sha256_file,
)
from caselens.numeric_tolerance import NUMERIC_TOLERANCE

FileStatus = Literal["identical", "within_tolerance", "differs", "missing"]

#: Files that must be byte-identical on any machine.
EXACT_FILES = (FEATURES_FILE, DEMO_CASES_FILE, REFERENCE_FILE, CALIBRATION_FILE)
#: Card fields that follow the model file's bytes, so they may differ across machines.
CARD_FIELDS_FOLLOWING_MODEL_BYTES = ("model_sha256",)


@dataclass(frozen=True)
class FileCheck:
    """How one file of the rebuilt bundle compares with the committed one."""

    name: str
    status: FileStatus
    detail: str


@dataclass(frozen=True)
class SampleReproduction:
    """The comparison of a rebuilt sample bundle with the committed one."""

    model_id: str
    files: tuple[FileCheck, ...]
    largest_probability_difference: float
    rows_compared: int

    @property
    def reproduces(self) -> bool:
        """True when every file is identical or, for the model, within tolerance."""
        return all(f.status in {"identical", "within_tolerance"} for f in self.files)

    @property
    def model_bytes_identical(self) -> bool:
        """Whether ``model.skops`` is byte-identical (reported, not required)."""
        return any(f.name == SKOPS_MODEL_FILE and f.status == "identical" for f in self.files)

    def lines(self) -> list[str]:
        """A short table for the terminal."""
        verdict = "reproduces" if self.reproduces else "DOES NOT REPRODUCE"
        out = [f"{self.model_id}: {verdict}"]
        out += [f"  {f.name:<20} {f.status:<17} {f.detail}" for f in self.files]
        return out


def _card_without_model_bytes(path: Path) -> dict:
    card = json.loads(path.read_text(encoding="utf-8"))
    for name in CARD_FIELDS_FOLLOWING_MODEL_BYTES:
        card.pop(name, None)
    return card


def _first_card_difference(a: dict, b: dict, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key, object()) != b.get(key, object()):
                return _first_card_difference(a.get(key), b.get(key), f"{path}.{key}")
    return path.lstrip(".") or "(top level)"


def _rows(bundle: ModelBundle) -> pd.DataFrame:
    frames = [bundle.reference]
    if bundle.calibration_data is not None:
        frames.append(bundle.calibration_data)
    return pd.concat(frames, ignore_index=True)[bundle.features.names]


def compare_sample(
    built: Path, committed: Path, *, tolerance: float = NUMERIC_TOLERANCE
) -> SampleReproduction:
    """Compare a freshly built bundle folder with the committed one.

    Parameters
    ----------
    built, committed : Path
        The two bundle folders (the committed one is the reference).
    tolerance : float
        Largest accepted difference between the two models' probabilities.
    """
    checks: list[FileCheck] = []
    for name in EXACT_FILES:
        a, b = built / name, committed / name
        if not a.is_file() or not b.is_file():
            if a.is_file() != b.is_file():
                checks.append(FileCheck(name, "missing", "present on one side only"))
            continue
        same = sha256_file(a) == sha256_file(b)
        checks.append(
            FileCheck(name, "identical" if same else "differs", "" if same else "bytes differ")
        )
    card_a = _card_without_model_bytes(built / CARD_FILE)
    card_b = _card_without_model_bytes(committed / CARD_FILE)
    if card_a == card_b:
        checks.append(FileCheck(CARD_FILE, "identical", "all fields but model_sha256"))
    else:
        where = _first_card_difference(card_a, card_b)
        checks.append(FileCheck(CARD_FILE, "differs", f"first differing field: {where}"))

    largest, rows = 0.0, 0
    if sha256_file(built / SKOPS_MODEL_FILE) == sha256_file(committed / SKOPS_MODEL_FILE):
        checks.append(FileCheck(SKOPS_MODEL_FILE, "identical", "byte-identical"))
    else:
        new, old = load_bundle(built), load_bundle(committed)
        frame = _rows(old)
        rows = len(frame)
        largest = float(np.max(np.abs(new.predict_proba(frame) - old.predict_proba(frame))))
        status: FileStatus = "within_tolerance" if largest <= tolerance else "differs"
        checks.append(
            FileCheck(
                SKOPS_MODEL_FILE,
                status,
                f"bytes differ; probabilities on {rows} rows: max |Δ| = {largest:.1e} "
                f"(tolerance {tolerance:g})",
            )
        )
    return SampleReproduction(
        model_id=committed.name,
        files=tuple(checks),
        largest_probability_difference=largest,
        rows_compared=rows,
    )
