"""The engineered features: one layer for the network's graph and the trees' table."""

from pathlib import Path

import numpy as np
import pytest

from covertype.schema import FEATURE_COLUMNS, NUMERIC_COLUMNS
from trainer.api import load_validated_data
from trainer.features import ENGINEERED_COLUMNS, engineered_table


def column(table: np.ndarray, name: str) -> np.ndarray:
    return table[:, ENGINEERED_COLUMNS.index(name)]


def test_the_table_holds_the_derived_features_then_the_indicators(train_csv: Path) -> None:
    raw = load_validated_data(train_csv).features[:500]
    table = engineered_table(raw)
    value = {name: raw[:, FEATURE_COLUMNS.index(name)] for name in NUMERIC_COLUMNS}

    assert table.shape == (500, len(ENGINEERED_COLUMNS) + 44)
    np.testing.assert_array_equal(table[:, :10], raw[:, :10])
    np.testing.assert_array_equal(table[:, len(ENGINEERED_COLUMNS) :], raw[:, 10:])
    elevation, aspect = value["Elevation"], value["Aspect"]
    hydrology, vertical = (
        value["Horizontal_Distance_To_Hydrology"],
        value["Vertical_Distance_To_Hydrology"],
    )
    fire = value["Horizontal_Distance_To_Fire_Points"]
    expected = {
        "Distance_To_Hydrology": np.hypot(hydrology, vertical),
        "Elevation_Minus_Vertical_Hydrology": elevation - vertical,
        "Elevation_Minus_Horizontal_Hydrology": elevation - 0.2 * hydrology,
        "Hydrology_Fire_Difference": np.abs(hydrology - fire),
        "Aspect_Sin": np.sin(np.radians(aspect)),
        "Aspect_Cos": np.cos(np.radians(aspect)),
    }
    for name, values in expected.items():
        np.testing.assert_allclose(column(table, name), values, rtol=1e-5, atol=1e-4)


def test_aspect_wraps_around() -> None:
    raw = np.zeros((2, 54), dtype=np.float32)
    raw[:, FEATURE_COLUMNS.index("Aspect")] = [359.0, 1.0]
    table = engineered_table(raw)
    assert column(table, "Aspect_Cos") == pytest.approx([1.0, 1.0], abs=1e-3)
    assert column(table, "Aspect_Sin") == pytest.approx([-0.0175, 0.0175], abs=1e-3)
