"""How the model was asked for one report's numbers: calls, rows and time, each answer
checked to be a probability per row."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from caselens.model.output_check import check_probabilities


@dataclass(frozen=True)
class ModelUsage:
    """How the model was asked for one report's numbers.

    Attributes
    ----------
    rows : int
        Rows passed to ``predict_proba`` (every LIME run's neighbourhood, the SHAP
        coalitions, the case).
    calls : int
        ``predict_proba`` calls: 1 (every row, the case last), more only if that call
        failed and the case and each part were asked alone.
    predict_ms : float
        Milliseconds spent inside those calls.
    """

    rows: int
    calls: int
    predict_ms: float


class _CountingPredict:
    """``model.predict_proba`` that counts calls, rows and time."""

    def __init__(self, model: Any) -> None:
        self.model = model
        # A model that checks its own answers (an ONNX model, on every call) is not checked
        # twice; any other model's answer is checked here.
        self._checks_itself = getattr(model, "answers_checked", False) is True
        self.calls = 0
        self.rows = 0
        self.seconds = 0.0

    @property
    def takes_columns(self) -> bool:
        """Whether the model takes a batch as columns (``predict_proba_columns``)."""
        return callable(getattr(self.model, "predict_proba_columns", None))

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        return self._counted(self.model.predict_proba, frame, len(frame))

    def columns(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        """``model.predict_proba_columns(columns)``, counted (see :attr:`takes_columns`)."""
        rows = len(next(iter(columns.values()))) if columns else 0
        return self._counted(self.model.predict_proba_columns, columns, rows)

    def _counted(self, method: Callable[[Any], Any], data: Any, rows: int) -> np.ndarray:
        """The model's answer, checked to be a probability per row (ModelOutputError)."""
        start = time.perf_counter()
        try:
            answer = method(data)
            if self._checks_itself:
                return np.asarray(answer, dtype=float)
            return check_probabilities(answer, rows=rows)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1
            self.rows += rows

    def usage(self) -> ModelUsage:
        return ModelUsage(
            rows=self.rows, calls=self.calls, predict_ms=round(1000 * self.seconds, 3)
        )
