"""Validation of a raw table against `covertype.schema`, reporting every problem at once.

Rules: the expected columns are present (and nothing else, `Id` optional), every cell is a
number and not missing, numeric features lie in their physical domain, one-hot cells are 0
or 1 and each one-hot group has exactly one 1 per row, labels are 1..7, and Ids are unique.
All checks are vectorised column operations, so the full UCI set validates in seconds.
"""

import hashlib
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from covertype.schema import (
    CLASS_NAMES,
    FEATURE_COLUMNS,
    ID_COLUMN,
    LABEL_COLUMN,
    NUMERIC_FEATURES,
    ONE_HOT_GROUPS,
    NumericFeature,
)
from trainer.data import DataLocation, Layout, RawTable
from trainer.problems import DataValidationError, ProblemGroup, whole_file

__all__ = ["DataValidationError", "ValidatedData", "validate"]

_REQUIRED: tuple[str, ...] = (*FEATURE_COLUMNS, LABEL_COLUMN)
_ONE_HOT_COLUMNS = frozenset(name for group in ONE_HOT_GROUPS.values() for name in group)
_LABELS = np.array(sorted(CLASS_NAMES), dtype=np.float64)


@dataclass(frozen=True)
class ValidatedData:
    """Rows that passed validation: features in canonical column order and labels 1..7."""

    features: np.ndarray  # float32 [rows, 54]
    labels: np.ndarray  # int64 [rows]
    location: DataLocation
    layout: Layout

    @property
    def rows(self) -> int:
        """Number of rows."""
        return len(self.labels)

    def fingerprint(self) -> str:
        """SHA-256 of the canonical column names, then the rows (float32 features, int64 labels).

        Ids and the file layout do not enter, so the same rows give the same fingerprint
        from a Kaggle CSV or a UCI file.
        """
        digest = hashlib.sha256(",".join(_REQUIRED).encode())
        digest.update(np.ascontiguousarray(self.features, dtype="<f4").tobytes())
        digest.update(np.ascontiguousarray(self.labels, dtype="<i8").tobytes())
        return f"sha256:{digest.hexdigest()}"


def validate(table: RawTable) -> ValidatedData:
    """Check `table` against the schema; raise `DataValidationError` listing every problem."""
    problems: list[ProblemGroup] = []
    positions = _check_columns(table, problems)
    frame = table.frame
    lines = table.first_line + np.arange(len(frame), dtype=np.int64)
    if len(frame) == 0:
        problems.append(whole_file("no data rows"))
    blank = frame.isna().all(axis=1).to_numpy()
    _add(problems, None, "empty line", "empty line", lines, blank)

    values: dict[str, np.ndarray] = {}
    for name in _REQUIRED:
        if name in positions:
            values[name] = _numbers(frame[positions[name]], name, lines, blank, problems)
    for feature in NUMERIC_FEATURES:
        if feature.name in values:
            _check_domain(values[feature.name], feature, lines, problems)
    for name in _ONE_HOT_COLUMNS & values.keys():
        column = values[name]
        bad = ~np.isnan(column) & (column != 0) & (column != 1)
        _add(problems, name, "must be 0 or 1", "value {0:g} must be 0 or 1", lines, bad, column)
    for group, columns in ONE_HOT_GROUPS.items():
        if all(name in values for name in columns):
            _check_one_hot_group(group, [values[name] for name in columns], lines, blank, problems)
    if LABEL_COLUMN in values:
        label = values[LABEL_COLUMN]
        bad = ~np.isnan(label) & ~np.isin(label, _LABELS)
        rule = f"must be an integer from {min(CLASS_NAMES)} to {max(CLASS_NAMES)}"
        _add(problems, LABEL_COLUMN, rule, "label {0:g} " + rule, lines, bad, label)
    if ID_COLUMN in positions:
        _check_ids(frame[positions[ID_COLUMN]], lines, blank, problems)

    if problems:
        raise DataValidationError(table.location.describe(), problems)
    features = np.column_stack([values[name] for name in FEATURE_COLUMNS]).astype(np.float32)
    labels = values[LABEL_COLUMN].astype(np.int64)
    return ValidatedData(features, labels, table.location, table.layout)


def _check_columns(table: RawTable, problems: list[ProblemGroup]) -> dict[str, int]:
    """Report missing, unexpected and repeated columns; map each known name to its position."""
    counts = Counter(table.header)
    allowed = {*_REQUIRED, ID_COLUMN}
    for name in _REQUIRED:
        if name not in counts:
            problems.append(whole_file("missing column", column=name, line=table.header_line))
    for name, count in counts.items():
        if name not in allowed:
            problems.append(whole_file("unexpected column", column=name, line=table.header_line))
        elif count > 1:
            message = f"column appears {count} times in the header"
            problems.append(whole_file(message, column=name, line=table.header_line))
    return {name: table.header.index(name) for name in allowed if name in counts}


def _numbers(
    cells: pd.Series,
    name: str,
    lines: np.ndarray,
    blank: np.ndarray,
    problems: list[ProblemGroup],
) -> np.ndarray:
    """The column as float64 with NaN where a cell is missing or not a number (both reported)."""
    missing = cells.isna().to_numpy()
    _add(problems, name, "missing value", "missing value", lines, missing & ~blank)
    if pd.api.types.is_numeric_dtype(cells.dtype) and not pd.api.types.is_bool_dtype(cells.dtype):
        return cells.to_numpy(dtype=np.float64, na_value=np.nan)
    numbers = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    text = np.isnan(numbers) & ~missing
    raw = cells.to_numpy(dtype=object)
    _add(problems, name, "not a number", "non-numeric value {0!r}", lines, text, raw)
    return numbers


def _check_domain(
    column: np.ndarray, feature: NumericFeature, lines: np.ndarray, problems: list[ProblemGroup]
) -> None:
    infinite = np.isinf(column)
    rule = "must be a finite number"
    _add(problems, feature.name, rule, "value {0:g} " + rule, lines, infinite, column)
    outside = (column < feature.minimum) | (column > feature.maximum)
    rule = feature.rule()
    _add(problems, feature.name, rule, "value {0:g} " + rule, lines, outside & ~infinite, column)


def _check_one_hot_group(
    group: str,
    columns: list[np.ndarray],
    lines: np.ndarray,
    blank: np.ndarray,
    problems: list[ProblemGroup],
) -> None:
    """Rows whose group cells are all 0/1 must have exactly one 1 (bad cells are reported apart)."""
    matrix = np.column_stack(columns)
    clean = np.all((matrix == 0) | (matrix == 1), axis=1) & ~blank
    ones = matrix.sum(axis=1, where=clean[:, None]).astype(np.int64)
    members = f"{group}1..{group}{len(columns)}"
    rule = f"exactly one of {members} must be 1"
    template = "{0} of " + members + " are 1; exactly one must be 1"
    _add(problems, group, rule, template, lines, clean & (ones != 1), ones)


def _check_ids(
    cells: pd.Series, lines: np.ndarray, blank: np.ndarray, problems: list[ProblemGroup]
) -> None:
    missing = cells.isna().to_numpy() & ~blank
    _add(problems, ID_COLUMN, "missing value", "missing Id", lines, missing)
    present = cells[~cells.isna()]
    repeated = present.duplicated(keep="first")
    if repeated.any():
        firsts = present[~repeated]
        first_line = pd.Series(lines[firsts.index.to_numpy()], index=firsts.to_numpy())
        duplicates = present[repeated]
        where = duplicates.index.to_numpy()
        ids = duplicates.to_numpy(dtype=object)
        earlier = first_line.loc[ids].to_numpy()
        template = "Id {0} repeats line {1}"
        problems.append(
            ProblemGroup(ID_COLUMN, "Ids must be unique", template, lines[where], (ids, earlier))
        )


def _add(
    problems: list[ProblemGroup],
    column: str | None,
    rule: str,
    template: str,
    lines: np.ndarray,
    mask: np.ndarray,
    *values: np.ndarray,
) -> None:
    """Append a group for the rows selected by `mask`, if there are any."""
    if mask.any():
        problems.append(
            ProblemGroup(column, rule, template, lines[mask], tuple(v[mask] for v in values))
        )
