"""Observation validation: both encodings, and every problem of every instance reported."""

import math
from typing import Any

import pytest

from covertype import schema
from gateway.observations import InvalidInstances, Problem, validate_instances

NUMERIC = {
    "Elevation": 2596,
    "Aspect": 51,
    "Slope": 3,
    "Horizontal_Distance_To_Hydrology": 258,
    "Vertical_Distance_To_Hydrology": -6.5,
    "Horizontal_Distance_To_Roadways": 510,
    "Hillshade_9am": 221,
    "Hillshade_Noon": 232,
    "Hillshade_3pm": 148,
    "Horizontal_Distance_To_Fire_Points": 6279,
}


def compact(**changes: Any) -> dict[str, Any]:
    return {**NUMERIC, "wilderness_area": 1, "soil_type": 29, **changes}


def one_hot(wilderness: int = 1, soil: int = 29, **changes: Any) -> dict[str, Any]:
    columns = {c: 0 for c in schema.WILDERNESS_COLUMNS + schema.SOIL_COLUMNS}
    columns[f"Wilderness_Area{wilderness}"] = 1
    columns[f"Soil_Type{soil}"] = 1
    return {**NUMERIC, **columns, **changes}


def problems_of(instances: list[Any]) -> list[Problem]:
    with pytest.raises(InvalidInstances) as raised:
        validate_instances(instances)
    return list(raised.value.problems)


def test_both_encodings_give_the_same_row_in_canonical_order() -> None:
    rows = validate_instances(
        [compact(), one_hot(), {**NUMERIC, "Wilderness_Area1": 1, "Soil_Type29": 1}]
    )
    assert rows[0] == rows[1] == rows[2]
    row = rows[0]
    assert len(row) == len(schema.FEATURE_COLUMNS)
    named = dict(zip(schema.FEATURE_COLUMNS, row, strict=True))
    assert named["Elevation"] == 2596.0
    assert named["Vertical_Distance_To_Hydrology"] == -6.5
    assert named["Wilderness_Area1"] == 1.0 and named["Soil_Type29"] == 1.0
    assert sum(row[10:]) == 2.0


@pytest.mark.parametrize(("wilderness", "soil"), [(1, 1), (4, 40), (2, 17)])
def test_compact_numbers_map_to_their_one_hot_columns(wilderness: int, soil: int) -> None:
    [by_number, by_columns] = validate_instances(
        [compact(wilderness_area=wilderness, soil_type=soil), one_hot(wilderness, soil)]
    )
    assert by_number == by_columns
    named = dict(zip(schema.FEATURE_COLUMNS, by_number, strict=True))
    assert named[f"Wilderness_Area{wilderness}"] == 1.0
    assert named[f"Soil_Type{soil}"] == 1.0


def test_domain_edges_are_accepted() -> None:
    edges = compact(Elevation=0, Aspect=360, Slope=90, Hillshade_9am=255, Hillshade_3pm=0)
    assert validate_instances([edges])[0][:3] == [0.0, 360.0, 90.0]


def test_every_problem_of_every_instance_is_listed_with_its_rule() -> None:
    bad_first = compact(Elevation=9000, Aspect="51", unknown_field=1)
    del bad_first["Slope"]
    bad_second = one_hot(Soil_Type3=1)  # two soil types set
    good_third = compact()
    bad_fourth = compact(Hillshade_Noon=math.nan, soil_type=41, wilderness_area=True)

    problems = problems_of([bad_first, bad_second, good_third, bad_fourth])

    found = {(p.instance, p.field, p.kind) for p in problems}
    assert found == {
        (0, "Elevation", "out_of_domain"),
        (0, "Aspect", "wrong_type"),
        (0, "Slope", "missing_feature"),
        (0, "unknown_field", "unknown_field"),
        (1, "Soil_Type", "one_hot"),
        (3, "Hillshade_Noon", "out_of_domain"),
        (3, "soil_type", "out_of_domain"),
        (3, "wilderness_area", "wrong_type"),
    }
    by_field = {(p.instance, p.field): p.rule for p in problems}
    assert by_field[(0, "Elevation")] == "must be between 0 and 8849 (got 9000)"
    assert by_field[(0, "Aspect")] == "must be a number (got a string)"
    assert by_field[(0, "Slope")] == "required (a number; must be between 0 and 90)"
    assert "Soil_Type3, Soil_Type29" in by_field[(1, "Soil_Type")]
    assert by_field[(3, "soil_type")] == "must be between 1 and 40 (got 41)"
    assert by_field[(3, "wilderness_area")] == "must be an integer (got a boolean)"
    assert [p.instance for p in problems] == sorted(p.instance for p in problems)


@pytest.mark.parametrize(
    ("instance", "field", "kind", "rule_part"),
    [
        ({**NUMERIC, "soil_type": 2}, "wilderness_area", "missing_feature", "Wilderness_Area1"),
        ({**NUMERIC, "wilderness_area": 2}, "soil_type", "missing_feature", "soil_type (1..40)"),
        (compact(Soil_Type2=1), "soil_type", "one_hot", "not both"),
        (one_hot(Soil_Type29=0), "Soil_Type", "one_hot", "(0 set)"),
        (one_hot(Wilderness_Area2=1), "Wilderness_Area", "one_hot", "(2 set"),
        (one_hot(Soil_Type5=2), "Soil_Type5", "out_of_domain", "must be 0 or 1"),
        (one_hot(Soil_Type5=0.5), "Soil_Type5", "wrong_type", "an integer"),
        (compact(soil_type=2.5), "soil_type", "wrong_type", "an integer"),
        (compact(Elevation=None), "Elevation", "wrong_type", "(got null)"),
        (compact(Elevation=[1]), "Elevation", "wrong_type", "(got an array)"),
        (compact(Aspect=-1), "Aspect", "out_of_domain", "between 0 and 360"),
        (
            compact(Horizontal_Distance_To_Roadways=-0.5),
            "Horizontal_Distance_To_Roadways",
            "out_of_domain",
            "between 0 and 20037508 (got -0.5)",
        ),
        (
            compact(Vertical_Distance_To_Hydrology=math.inf),
            "Vertical_Distance_To_Hydrology",
            "out_of_domain",
            "between -19843 and 19843 (got inf)",
        ),
        # Past float32's range (it would overflow the [n, 54] float32 tensor).
        (
            compact(Horizontal_Distance_To_Roadways=1e39),
            "Horizontal_Distance_To_Roadways",
            "out_of_domain",
            "(got 1e+39)",
        ),
        # Inside float32 but far past the domain (the model's features would overflow).
        (
            compact(Horizontal_Distance_To_Hydrology=1e20),
            "Horizontal_Distance_To_Hydrology",
            "out_of_domain",
            "(got 1e+20)",
        ),
        # Too large for a double: named as out of domain, shown briefly.
        (
            compact(Elevation=10**400),
            "Elevation",
            "out_of_domain",
            "(got an integer of 401 digits)",
        ),
        (compact(Elevation="x" * 1000), "Elevation", "wrong_type", "(got a string)"),
        (compact(Elevation=True), "Elevation", "wrong_type", "(got a boolean)"),
    ],
)
def test_each_rule_is_named(
    instance: dict[str, Any], field: str, kind: str, rule_part: str
) -> None:
    problems = problems_of([instance])
    assert len(problems) == 1, problems
    assert (problems[0].instance, problems[0].field, problems[0].kind) == (0, field, kind)
    assert rule_part in problems[0].rule


def test_an_integral_number_is_an_integer_as_in_json_schema() -> None:
    assert validate_instances([one_hot(Soil_Type29=1.0)]) == validate_instances([compact()])
    assert validate_instances([compact(soil_type=29.0)]) == validate_instances([compact()])
    problems = problems_of([one_hot(Soil_Type2=1.0, Soil_Type29=1.0)])
    assert [(p.field, p.kind) for p in problems] == [("Soil_Type", "one_hot")]


def test_an_instance_that_is_not_an_object_is_a_wrong_type() -> None:
    problems = problems_of([compact(), "Elevation=1", [1, 2]])
    assert [(p.instance, p.field, p.kind) for p in problems] == [
        (1, "instance", "wrong_type"),
        (2, "instance", "wrong_type"),
    ]
