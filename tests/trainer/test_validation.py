"""Every validation rule, each tripped by a small bad file; reports name line and column."""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from covertype.schema import CLASS_NAMES, FEATURE_COLUMNS
from tests.trainer.files import read_rows, write_kaggle, write_uci
from trainer.data import DataLocation, load_table
from trainer.problems import DataValidationError, Problem
from trainer.validation import ValidatedData, validate

ROWS = 20


def check(path: Path) -> ValidatedData:
    return validate(load_table(DataLocation("--data", path)))


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(DataValidationError) as caught:
        check(path)
    return list(caught.value.problems())


def line_of(row: int) -> int:
    """File line of data row `row` (0-based) in a Kaggle CSV: the header is line 1."""
    return row + 2


def set_cell(row: int, column: str, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[row, column] = value
        return frame

    return change


def clear_group(row: int, prefix: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        for column in frame.columns:
            if column.startswith(prefix):
                frame.loc[row, column] = 0
        return frame

    return change


def second_one(row: int, prefix: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        group = [c for c in frame.columns if c.startswith(prefix)]
        off = next(c for c in group if frame.loc[row, c] == 0)
        frame.loc[row, off] = 1
        return frame

    return change


CELL_RULES = {
    "non-numeric": (set_cell(3, "Slope", "steep"), 3, "Slope", "non-numeric value 'steep'"),
    "missing value": (set_cell(4, "Elevation", None), 4, "Elevation", "missing value"),
    "NaN text": (set_cell(5, "Hillshade_Noon", "NaN"), 5, "Hillshade_Noon", "missing value"),
    "elevation < 0": (set_cell(0, "Elevation", -5), 0, "Elevation", "value -5 must be between"),
    "aspect > 360": (
        set_cell(1, "Aspect", 361),
        1,
        "Aspect",
        "value 361 must be between 0 and 360",
    ),
    "slope > 90": (set_cell(2, "Slope", 91), 2, "Slope", "value 91 must be between 0 and 90"),
    "hillshade > 255": (
        set_cell(6, "Hillshade_9am", 256),
        6,
        "Hillshade_9am",
        "value 256 must be between 0 and 255",
    ),
    "hillshade < 0": (set_cell(7, "Hillshade_3pm", -1), 7, "Hillshade_3pm", "value -1 must be"),
    "hydrology distance < 0": (
        set_cell(8, "Horizontal_Distance_To_Hydrology", -1),
        8,
        "Horizontal_Distance_To_Hydrology",
        "value -1 must be between 0 and 20037508",
    ),
    "road distance < 0": (
        set_cell(9, "Horizontal_Distance_To_Roadways", -30),
        9,
        "Horizontal_Distance_To_Roadways",
        "value -30 must be between 0 and 20037508",
    ),
    "fire distance < 0": (
        set_cell(10, "Horizontal_Distance_To_Fire_Points", -2),
        10,
        "Horizontal_Distance_To_Fire_Points",
        "value -2 must be between 0 and 20037508",
    ),
    "infinite": (
        set_cell(11, "Vertical_Distance_To_Hydrology", "inf"),
        11,
        "Vertical_Distance_To_Hydrology",
        "value inf must be a finite number",
    ),
    "one-hot cell not 0/1": (
        set_cell(12, "Soil_Type7", 2),
        12,
        "Soil_Type7",
        "value 2 must be 0 or 1",
    ),
    "no wilderness area": (
        clear_group(13, "Wilderness_Area"),
        13,
        "Wilderness_Area",
        "0 of Wilderness_Area1..Wilderness_Area4 are 1",
    ),
    "two soil types": (
        second_one(14, "Soil_Type"),
        14,
        "Soil_Type",
        "2 of Soil_Type1..Soil_Type40 are 1",
    ),
    "label 0": (set_cell(15, "Cover_Type", 0), 15, "Cover_Type", "label 0 must be an integer"),
    "label 8": (set_cell(16, "Cover_Type", 8), 16, "Cover_Type", "label 8 must be an integer"),
    "label 2.5": (set_cell(17, "Cover_Type", 2.5), 17, "Cover_Type", "label 2.5 must be"),
    "missing label": (set_cell(18, "Cover_Type", None), 18, "Cover_Type", "missing value"),
    "duplicated Id": (
        lambda f: set_cell(19, "Id", f.loc[2, "Id"])(f),
        19,
        "Id",
        f"repeats line {line_of(2)}",
    ),
    "missing Id": (set_cell(19, "Id", None), 19, "Id", "missing Id"),
}


@pytest.mark.parametrize("rule", list(CELL_RULES))
def test_each_cell_rule_reports_line_and_column(train_csv: Path, tmp_path: Path, rule: str) -> None:
    change, row, column, message = CELL_RULES[rule]
    path = write_kaggle(change(read_rows(train_csv, ROWS)), tmp_path / "bad.csv")
    found = problems_of(path)
    assert [(p.line, p.column) for p in found] == [(line_of(row), column)], found
    assert message in found[0].message


def test_the_real_file_is_valid(train_csv: Path) -> None:
    data = check(train_csv)
    assert data.rows == 12096
    assert data.features.shape == (12096, len(FEATURE_COLUMNS))
    assert data.features.dtype == np.float32
    assert set(np.unique(data.labels)) == set(CLASS_NAMES)


def test_missing_extra_and_repeated_columns(train_csv: Path, tmp_path: Path) -> None:
    frame = read_rows(train_csv, ROWS).drop(columns=["Aspect"])
    frame["Colour"] = 1
    path = write_kaggle(frame, tmp_path / "bad.csv")
    text = path.read_text().replace("Slope", "Elevation", 1)  # header names Elevation twice
    path.write_text(text)
    found = {(p.column, p.message) for p in problems_of(path)}
    assert ("Aspect", "missing column") in found
    assert ("Slope", "missing column") in found
    assert ("Colour", "unexpected column") in found
    assert ("Elevation", "column appears 2 times in the header") in found


def test_every_problem_is_reported_in_file_order(train_csv: Path, tmp_path: Path) -> None:
    frame = read_rows(train_csv, ROWS)
    for change, *_ in CELL_RULES.values():
        frame = change(frame)
    with pytest.raises(DataValidationError) as caught:
        check(write_kaggle(frame, tmp_path / "bad.csv"))
    error = caught.value
    lines = [p.line for p in error.problems()]
    # "duplicated Id" is overwritten by "missing Id" on the same cell.
    assert error.count == len(lines) == len(CELL_RULES) - 1
    assert lines == sorted(lines)


def test_report_counts_everything_but_lists_a_limited_number(
    train_csv: Path, tmp_path: Path
) -> None:
    frame = read_rows(train_csv, 300)
    frame["Aspect"] = 999
    with pytest.raises(DataValidationError) as caught:
        check(write_kaggle(frame, tmp_path / "bad.csv"))
    error = caught.value
    assert error.count == 300
    report = error.report(limit=50)
    assert "300 problems" in report
    assert "line 2, column Aspect: value 999 must be between 0 and 360" in report
    assert "line 51, column Aspect" in report
    assert "line 52, column Aspect" not in report
    assert "... and 250 more not shown" in report


def test_empty_line_is_one_problem(train_csv: Path, tmp_path: Path) -> None:
    path = write_kaggle(read_rows(train_csv, 5), tmp_path / "blank.csv")
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines[:3], "", *lines[3:]]) + "\n")
    found = problems_of(path)
    assert [(p.line, p.message) for p in found] == [(4, "empty line")]


def test_line_with_too_many_fields(train_csv: Path, tmp_path: Path) -> None:
    path = write_kaggle(read_rows(train_csv, 5), tmp_path / "long.csv")
    lines = path.read_text().splitlines()
    lines[4] += ",7"
    path.write_text("\n".join(lines) + "\n")
    found = problems_of(path)
    assert len(found) == 1
    assert "Expected 56 fields in line 5, saw 57" in found[0].message


def test_first_data_line_must_match_the_header(train_csv: Path, tmp_path: Path) -> None:
    path = write_kaggle(read_rows(train_csv, 3), tmp_path / "short.csv")
    lines = path.read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0]
    path.write_text("\n".join(lines) + "\n")
    found = problems_of(path)
    assert [(p.line, p.message) for p in found] == [(2, "55 fields, but the header has 56")]


def test_empty_file_and_header_only(train_csv: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert [p.message for p in problems_of(empty)] == ["the file is empty"]
    header_only = tmp_path / "header.csv"
    header_only.write_text(train_csv.read_text().splitlines()[0] + "\n")
    assert [p.message for p in problems_of(header_only)] == ["no data rows"]


@pytest.mark.parametrize("name", ["covtype.data", "covtype.data.gz"])
def test_uci_layout(train_csv: Path, tmp_path: Path, name: str) -> None:
    frame = read_rows(train_csv, ROWS)
    kaggle = check(write_kaggle(frame, tmp_path / "train.csv"))
    uci = check(write_uci(frame, tmp_path / name))
    assert uci.layout == "uci"
    np.testing.assert_array_equal(uci.features, kaggle.features)
    np.testing.assert_array_equal(uci.labels, kaggle.labels)
    assert uci.fingerprint() == kaggle.fingerprint()


def test_uci_layout_reports_lines_from_one(train_csv: Path, tmp_path: Path) -> None:
    frame = set_cell(0, "Aspect", 400)(read_rows(train_csv, ROWS))
    found = problems_of(write_uci(frame, tmp_path / "covtype.data"))
    assert [(p.line, p.column) for p in found] == [(1, "Aspect")]


def test_uci_layout_needs_55_fields(train_csv: Path, tmp_path: Path) -> None:
    frame = read_rows(train_csv, ROWS).drop(columns=["Soil_Type40"])
    path = tmp_path / "covtype.data"
    path.write_text(frame.drop(columns=["Id"]).to_csv(index=False, header=False))
    found = problems_of(path)
    assert [(p.line, p.message) for p in found] == [(1, "54 fields, but the UCI layout needs 55")]


def test_gzipped_kaggle_csv(train_csv: Path, tmp_path: Path) -> None:
    frame = read_rows(train_csv, ROWS)
    plain = check(write_kaggle(frame, tmp_path / "train.csv"))
    zipped = check(write_kaggle(frame, tmp_path / "train.csv.gz"))
    assert zipped.fingerprint() == plain.fingerprint()
    bad = set_cell(3, "Slope", 95)(frame)
    found = problems_of(write_kaggle(bad, tmp_path / "bad.csv.gz"))
    assert [(p.line, p.column) for p in found] == [(line_of(3), "Slope")]


def test_fingerprint_follows_the_rows(train_csv: Path, tmp_path: Path) -> None:
    frame = read_rows(train_csv, ROWS)
    original = check(write_kaggle(frame, tmp_path / "a.csv")).fingerprint()
    assert original.startswith("sha256:") and len(original) == len("sha256:") + 64
    changed = set_cell(0, "Elevation", int(frame.loc[0, "Elevation"]) + 1)(frame.copy())
    assert check(write_kaggle(changed, tmp_path / "b.csv")).fingerprint() != original
    renumbered = frame.assign(Id=frame["Id"] + 1000)
    assert check(write_kaggle(renumbered, tmp_path / "c.csv")).fingerprint() == original
