"""What a checked case is: the validated :class:`Case`, and each problem or flag tied to its
field."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from caselens.errors import CaseValidationError
from caselens.explain.cases.hypothetical import Hypothetical
from caselens.explain.cases.record_sources import RecordSources
from caselens.model.column_index import column_index

ProblemCode = Literal[
    "unknown_field",
    "missing_required",
    "wrong_type",
    "not_whole_number",
    "outside_limits",
    "unknown_category",
    "not_finite",
    "duplicate_field",
    "empty_file",
    "several_rows",
    "too_large",
    "not_utf8",
    "bad_format",
]
FlagCode = Literal["outside_training_range", "rare_category", "missing_value"]


@dataclass(frozen=True)
class FieldProblem:
    """One reason a case was refused, tied to a field ('(file)' for whole-file problems)."""

    field: str
    code: ProblemCode
    message: str


@dataclass(frozen=True)
class FieldFlag:
    """A value that was accepted but that later checks should flag."""

    field: str
    code: FlagCode
    message: str


@dataclass(frozen=True)
class Case:
    """One patient's validated inputs in schema order (``None`` = not recorded).

    Attributes
    ----------
    values : dict
        Feature name → number (float), category (str) or None.
    source : str
        'form', 'csv', 'json', 'demo' or 'fhir'.
    case_id : str or None
        A reference for the patient or demo case, if one was given.
    flags : tuple of FieldFlag
        Accepted values that fall outside what the model saw in training.
    record_sources : RecordSources or None
        For a case read from the patient's FHIR record ('fhir'): where each value came
        from, and which the clinician entered by hand; None for any other case.
    hypothetical : Hypothetical or None
        For a what-if or counterfactual case: the report it was derived from and what
        changed; None for a patient's own values.
    """

    values: dict[str, Any]
    source: str
    case_id: str | None = None
    flags: tuple[FieldFlag, ...] = field(default=())
    record_sources: RecordSources | None = None
    hypothetical: Hypothetical | None = None

    def to_frame(self) -> pd.DataFrame:
        """The case as a one-row DataFrame of the model's inputs.

        Every column has dtype object and holds a plain Python value (``None`` = not
        recorded), exactly as ``pd.DataFrame([values]).astype(object).where(notna, None)``
        gives it; built from one object array (one block, no type inference) with the
        shared column index, because the general way took milliseconds on every report.
        """
        cells = np.empty((1, len(self.values)), dtype=object)
        for j, value in enumerate(self.values.values()):
            cells[0, j] = _frame_cell(value)  # cell by cell: any value stays one cell
        return pd.DataFrame(
            cells,
            columns=column_index(self.values),
            index=pd.RangeIndex(1),
            dtype=object,
            copy=False,
        )


def _frame_cell(value: Any) -> Any:
    """One cell of :meth:`Case.to_frame`: NaN as None, numpy scalars as Python scalars."""
    if value is None or (isinstance(value, float | np.floating) and math.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _file_problem(code: ProblemCode, message: str) -> CaseValidationError:
    return CaseValidationError([FieldProblem("(file)", code, message)])
