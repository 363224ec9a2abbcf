"""Reading the files a hospital hands to ``caselens bundle create``: the data splits (CSV or
Parquet), the card file (TOML or JSON) and a demo-cases file, each bounded in size and each
failure naming the file.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd

from caselens.errors import BundleError, CaseValidationError
from caselens.explain.cases import validate_inputs
from caselens.model.bundle import (
    DemoCase,
)
from caselens.model.features import FeatureSchema

#: Largest training, test or calibration file read (CSV or Parquet).
MAX_DATA_FILE_BYTES = 512 * 1024 * 1024
#: Largest card file or demo-cases file.
MAX_TEXT_FILE_BYTES = 2 * 1024 * 1024


def _check_size(path: Path, limit: int, what: str) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise BundleError(f"{what} {path} cannot be read: {exc.strerror or exc}.") from exc
    if size > limit:
        raise BundleError(f"{what} {path.name} is {size:,} bytes; the limit is {limit:,} bytes.")


def read_data_file(path: str | Path, what: str) -> pd.DataFrame:
    """A CSV or Parquet data file as a DataFrame; any failure names the file.

    Parameters
    ----------
    path : str or Path
    what : str
        The file's role in messages, e.g. ``"The training data"``.
    """
    file = Path(path)
    _check_size(file, MAX_DATA_FILE_BYTES, what)
    suffix = file.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(file)
        if suffix == ".csv":
            return pd.read_csv(file)
    except Exception as exc:  # a parser's error becomes a message naming the file
        raise BundleError(f"{what} ({file.name}) could not be read: {exc}.") from exc
    raise BundleError(f"{what} ({file.name}) must be a .csv or .parquet file.")


def read_card_file(path: str | Path) -> dict[str, Any]:
    """The card file (TOML, or JSON with the same field names) as a dict."""
    file = Path(path)
    _check_size(file, MAX_TEXT_FILE_BYTES, "The card file")
    text = file.read_text(encoding="utf-8")
    try:
        if file.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text)
        else:
            data = json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"The card file {file.name} could not be read: {exc}.") from exc
    if not isinstance(data, dict):
        raise BundleError(f"The card file {file.name} must hold a table of fields.")
    return data


def read_demo_cases_file(path: str | Path, schema: FeatureSchema) -> list[dict[str, Any]]:
    """Demo cases from a JSON list of {case_id, title, description, inputs}, each validated."""
    file = Path(path)
    _check_size(file, MAX_TEXT_FILE_BYTES, "The demo cases file")
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BundleError(f"The demo cases file {file.name} is not valid JSON: {exc}.") from exc
    if not isinstance(raw, list):
        raise BundleError(f"The demo cases file {file.name} must hold a JSON list.")
    cases = []
    for position, item in enumerate(raw, start=1):
        try:
            case = DemoCase.model_validate(item)
            validate_inputs(case.inputs, schema, case_id=case.case_id)
        except CaseValidationError as exc:
            raise BundleError(f"Demo case {position} in {file.name}: {exc}") from exc
        except ValueError as exc:  # pydantic's ValidationError
            raise BundleError(f"Demo case {position} in {file.name} is invalid: {exc}") from exc
        cases.append(case.model_dump(mode="json"))
    return cases
