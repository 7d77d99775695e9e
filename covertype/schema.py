"""The feature and label contract shared by the trainer, the gateway and the reports.

Column names are the Kaggle / UCI names; their order is the canonical order of the
`[batch, 54]` matrix signature. Domains are physical limits (what a value can be),
not the range seen in training data.
"""

from dataclasses import dataclass

# Physical limits for the distances: no two points on Earth are farther apart along the
# surface than half the equator (20,037.5 km), and no height difference exceeds the span
# from the Mariana Trench (-10,994 m) to Mount Everest (8,849 m). Bounded domains also keep
# every value, and the model's engineered features of it, finite in float32.
MAX_SURFACE_DISTANCE_M = 20_037_508
MAX_HEIGHT_DIFFERENCE_M = 19_843


@dataclass(frozen=True)
class NumericFeature:
    """A continuous cartographic feature and the closed interval its values must lie in."""

    name: str
    minimum: float
    maximum: float
    description: str

    def rule(self) -> str:
        """Describe the domain in words, for error messages."""
        return f"must be between {_plain(self.minimum)} and {_plain(self.maximum)}"


def _plain(number: float) -> str:
    """A bound as people write it: 20037508, not 2.00375e+07."""
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


NUMERIC_FEATURES: tuple[NumericFeature, ...] = (
    NumericFeature("Elevation", 0, 8849, "elevation in meters"),
    NumericFeature("Aspect", 0, 360, "aspect in degrees azimuth"),
    NumericFeature("Slope", 0, 90, "slope in degrees"),
    NumericFeature(
        "Horizontal_Distance_To_Hydrology",
        0,
        MAX_SURFACE_DISTANCE_M,
        "meters to nearest surface water",
    ),
    NumericFeature(
        "Vertical_Distance_To_Hydrology",
        -MAX_HEIGHT_DIFFERENCE_M,
        MAX_HEIGHT_DIFFERENCE_M,
        "meters to nearest surface water",
    ),
    NumericFeature(
        "Horizontal_Distance_To_Roadways", 0, MAX_SURFACE_DISTANCE_M, "meters to nearest roadway"
    ),
    NumericFeature("Hillshade_9am", 0, 255, "hillshade index at 9am, summer solstice"),
    NumericFeature("Hillshade_Noon", 0, 255, "hillshade index at noon, summer solstice"),
    NumericFeature("Hillshade_3pm", 0, 255, "hillshade index at 3pm, summer solstice"),
    NumericFeature(
        "Horizontal_Distance_To_Fire_Points",
        0,
        MAX_SURFACE_DISTANCE_M,
        "meters to nearest wildfire ignition point",
    ),
)

WILDERNESS_AREAS = 4
SOIL_TYPES = 40
WILDERNESS_COLUMNS: tuple[str, ...] = tuple(
    f"Wilderness_Area{i}" for i in range(1, WILDERNESS_AREAS + 1)
)
SOIL_COLUMNS: tuple[str, ...] = tuple(f"Soil_Type{i}" for i in range(1, SOIL_TYPES + 1))
ONE_HOT_GROUPS: dict[str, tuple[str, ...]] = {
    "Wilderness_Area": WILDERNESS_COLUMNS,
    "Soil_Type": SOIL_COLUMNS,
}

NUMERIC_COLUMNS: tuple[str, ...] = tuple(f.name for f in NUMERIC_FEATURES)
FEATURE_COLUMNS: tuple[str, ...] = NUMERIC_COLUMNS + WILDERNESS_COLUMNS + SOIL_COLUMNS
ID_COLUMN = "Id"
LABEL_COLUMN = "Cover_Type"

CLASS_NAMES: dict[int, str] = {
    1: "Spruce/Fir",
    2: "Lodgepole Pine",
    3: "Ponderosa Pine",
    4: "Cottonwood/Willow",
    5: "Aspen",
    6: "Douglas-fir",
    7: "Krummholz",
}
NUM_CLASSES = len(CLASS_NAMES)

EXAMPLE_OBSERVATION: dict[str, int] = {
    "Elevation": 2596,
    "Aspect": 51,
    "Slope": 3,
    "Horizontal_Distance_To_Hydrology": 258,
    "Vertical_Distance_To_Hydrology": 0,
    "Horizontal_Distance_To_Roadways": 510,
    "Hillshade_9am": 221,
    "Hillshade_Noon": 232,
    "Hillshade_3pm": 148,
    "Horizontal_Distance_To_Fire_Points": 6279,
    "wilderness_area": 1,
    "soil_type": 29,
}
"""One real observation (the first row of the Kaggle training file) in the gateway's encoding."""
