"""Observations as the REST API accepts them, validated into rows of the `[n, 54]` matrix.

An observation has the 10 numeric features by their dataset names, and the wilderness
area and soil type either as the dataset's one-hot fields (`Wilderness_Area1..4`,
`Soil_Type1..40`; absent ones count as 0, exactly one must be 1) or as
`wilderness_area` (1..4) and `soil_type` (1..40). The field rules come from
`covertype.schema`; pydantic checks each field, `_group_problems` checks the groups.
Every numeric domain is bounded, so a valid row is finite in float32 and can share a
Predict call with other clients' rows without failing it.

Problems are counted in full but listed up to `MAX_LISTED_PROBLEMS`, and the work spent
on an invalid request is bounded too: an object with more fields than an observation
can have is refused as a whole, without looking at each field.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
)

from covertype import schema


@dataclass(frozen=True)
class OneHotGroup:
    """A categorical feature, given either by its one-hot columns or by its number."""

    name: str
    columns: tuple[str, ...]
    compact_field: str

    @property
    def size(self) -> int:
        return len(self.columns)

    def span(self) -> str:
        """`Soil_Type1..Soil_Type40`, for messages."""
        return f"{self.columns[0]}..{self.columns[-1]}"


GROUPS: tuple[OneHotGroup, ...] = (
    OneHotGroup("Wilderness_Area", schema.WILDERNESS_COLUMNS, "wilderness_area"),
    OneHotGroup("Soil_Type", schema.SOIL_COLUMNS, "soil_type"),
)
NUMERIC_BY_NAME: dict[str, schema.NumericFeature] = {f.name: f for f in schema.NUMERIC_FEATURES}
_GROUP_BY_COLUMN: dict[str, OneHotGroup] = {c: g for g in GROUPS for c in g.columns}
_GROUP_BY_COMPACT: dict[str, OneHotGroup] = {g.compact_field: g for g in GROUPS}


@dataclass(frozen=True)
class Problem:
    """One broken rule: which instance (None = the request itself), which field, which rule."""

    instance: int | None
    field: str
    kind: str  # missing_feature | out_of_domain | wrong_type | unknown_field | one_hot | invalid
    rule: str


MAX_LISTED_PROBLEMS = 100
# The most fields a valid observation has: the 54 dataset columns.
MAX_FIELDS = len(schema.FEATURE_COLUMNS)
_SHOWN_CHARACTERS = 40


class InvalidInstances(ValueError):
    """The request's observations break rules.

    `problems` lists the first `MAX_LISTED_PROBLEMS` of them, in instance order;
    `count` is how many there are in all.
    """

    def __init__(self, problems: Sequence[Problem], count: int | None = None) -> None:
        total = len(problems) if count is None else count
        super().__init__(f"{total} problem(s) in the request")
        self.problems = tuple(problems[:MAX_LISTED_PROBLEMS])
        self.count = total

    def __reduce__(self) -> tuple[type["InvalidInstances"], tuple[Any, ...]]:
        # Raised in the decoding worker process too: it must survive pickling.
        return InvalidInstances, (self.problems, self.count)


def _integral_float_as_int(value: Any) -> Any:
    """JSON's 1.0 is the integer 1 (as in JSON Schema); 1.5 stays a float and is refused."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


_INTEGRAL = BeforeValidator(_integral_float_as_int)


def _observation_model() -> type[BaseModel]:
    """Declare the `Observation` pydantic model from the schema (also its OpenAPI schema)."""
    definitions: dict[str, Any] = {}
    for feature in schema.NUMERIC_FEATURES:
        constraint = Field(
            ge=feature.minimum,
            le=feature.maximum,
            allow_inf_nan=False,
            description=f"{feature.description}; {feature.rule()}",
        )
        definitions[feature.name] = (Annotated[float, constraint], ...)
    for group in GROUPS:
        for column in group.columns:
            one_hot = Field(ge=0, le=1, description=f"one-hot {group.name}: 0 or 1")
            definitions[column] = (Annotated[int, one_hot, _INTEGRAL], None)
        compact = Field(
            ge=1,
            le=group.size,
            description=f"{group.name} number 1..{group.size}, instead of {group.span()}",
        )
        definitions[group.compact_field] = (Annotated[int, compact, _INTEGRAL], None)
    config = ConfigDict(extra="forbid", strict=True)
    return create_model("Observation", __config__=config, **definitions)


Observation = _observation_model()
_INSTANCES = TypeAdapter(list[Observation])
_OBSERVATION = TypeAdapter(Observation)

_DOMAIN_ERRORS = frozenset(
    {"greater_than_equal", "less_than_equal", "greater_than", "less_than", "finite_number"}
)


def _json_type(value: Any) -> str:
    """The JSON type name of a decoded value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _expected(field: str) -> tuple[str, str]:
    """What a field must hold, as (type phrase, domain rule)."""
    if field in NUMERIC_BY_NAME:
        return "a number", NUMERIC_BY_NAME[field].rule()
    if field in _GROUP_BY_COLUMN:
        return "an integer", "must be 0 or 1"
    group = _GROUP_BY_COMPACT[field]
    return "an integer", f"must be between 1 and {group.size}"


def _shown(value: Any) -> str:
    """A client's value for a message, never longer than a few dozen characters."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"an integer of {len(str(abs(value)))} digits"
    text = repr(value)
    if len(text) > _SHOWN_CHARACTERS:
        return text[: _SHOWN_CHARACTERS - 3] + "..."
    return text


def field_name(key: str) -> str:
    """A client's field name for a message, cut to a few dozen characters."""
    return key if len(key) <= _SHOWN_CHARACTERS else key[: _SHOWN_CHARACTERS - 3] + "..."


def _pydantic_problem(index: int, error: Any) -> Problem:
    """Translate one pydantic error of instance `index` (loc = (field,)) into a `Problem`."""
    location = error["loc"]
    if not location:
        rule = f"each instance must be a JSON object of features, not {_json_type(error['input'])}"
        return Problem(index, "instance", "wrong_type", rule)
    field = field_name(str(location[0]))
    kind = error["type"]
    value = error["input"]
    if kind == "extra_forbidden":
        accepted = (
            "the 10 numeric features, Wilderness_Area1..4 / Soil_Type1..40, "
            "or wilderness_area / soil_type"
        )
        return Problem(
            index, field, "unknown_field", f"not an accepted field (accepted: {accepted})"
        )
    type_phrase, domain = _expected(field)
    if kind == "missing":
        return Problem(index, field, "missing_feature", f"required ({type_phrase}; {domain})")
    # An integer too large for a float is a number out of the domain, not a wrong type.
    too_large = kind == "float_type" and type(value) is int
    if kind in _DOMAIN_ERRORS or too_large:
        return Problem(index, field, "out_of_domain", f"{domain} (got {_shown(value)})")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        got = _json_type(value)
        return Problem(index, field, "wrong_type", f"must be {type_phrase} (got {got})")
    return Problem(index, field, "invalid", error["msg"])


def _group_problems(index: int, instance: dict[str, Any]) -> list[Problem]:
    """Check that each categorical group is given exactly once, by exactly one encoding."""
    problems = []
    for group in GROUPS:
        given = [c for c in group.columns if c in instance]
        if group.compact_field in instance:
            if given:
                rule = f"give either {group.compact_field} or {group.span()}, not both"
                problems.append(Problem(index, group.compact_field, "one_hot", rule))
            continue
        if not given:
            rule = (
                f"required: {group.compact_field} (1..{group.size}) "
                f"or one of {group.span()} set to 1"
            )
            problems.append(Problem(index, group.compact_field, "missing_feature", rule))
            continue
        values = [_integral_float_as_int(instance[c]) for c in given]
        if any(type(v) is not int or v not in (0, 1) for v in values):
            continue  # the field check reports the bad value itself
        ones = [c for c, v in zip(given, values, strict=True) if v == 1]
        if len(ones) != 1:
            found = f"{len(ones)} set" + (f": {', '.join(ones)}" if ones else "")
            rule = f"exactly one of {group.span()} must be 1 ({found})"
            problems.append(Problem(index, group.name, "one_hot", rule))
    return problems


def _row(observation: BaseModel) -> list[float]:
    """The observation as 54 floats in `schema.FEATURE_COLUMNS` order."""
    values = observation.__dict__
    row = [float(values[name]) for name in schema.NUMERIC_COLUMNS]
    for group in GROUPS:
        chosen = values[group.compact_field]
        one_hot = [0.0] * group.size
        if chosen is not None:
            one_hot[chosen - 1] = 1.0
        else:
            for position, column in enumerate(group.columns):
                if values[column] == 1:
                    one_hot[position] = 1.0
        row.extend(one_hot)
    return row


def validate_instances(instances: list[Any]) -> list[list[float]]:
    """Validate raw JSON observations and return their matrix rows, in order.

    Raises `InvalidInstances` with the first `MAX_LISTED_PROBLEMS` problems, in
    instance order, and the count of all of them. The work is bounded whatever the
    request holds: one validation of the whole list, then at most as many
    instance-by-instance validations as there are problems to list.
    """
    oversized = {
        index
        for index, instance in enumerate(instances)
        if isinstance(instance, dict) and len(instance) > MAX_FIELDS
    }
    checked = [inst for index, inst in enumerate(instances) if index not in oversized]
    field_problems = 0
    failing: set[int] = set()
    try:
        observations = _INSTANCES.validate_python(checked)
    except ValidationError as error:
        field_problems = error.error_count()
        positions = [i for i in range(len(instances)) if i not in oversized]
        failing = {
            positions[e["loc"][0]]
            for e in error.errors(include_url=False, include_context=False, include_input=False)
        }
    group_problems = {
        index: problems
        for index, instance in enumerate(instances)
        if index not in oversized
        and isinstance(instance, dict)
        and (problems := _group_problems(index, instance))
    }
    count = len(oversized) + field_problems + sum(len(p) for p in group_problems.values())
    if count == 0:
        return [_row(observation) for observation in observations]
    listed = _listed_problems(instances, oversized, failing | set(group_problems), group_problems)
    raise InvalidInstances(listed, count)


def _listed_problems(
    instances: list[Any],
    oversized: set[int],
    failing: set[int],
    group_problems: dict[int, list[Problem]],
) -> list[Problem]:
    """The problems of the failing instances, in order, until `MAX_LISTED_PROBLEMS`."""
    listed: list[Problem] = []
    for index in sorted(oversized | failing):
        if len(listed) >= MAX_LISTED_PROBLEMS:
            break
        instance = instances[index]
        if index in oversized:
            rule = f"an observation has at most {MAX_FIELDS} fields, this one has {len(instance)}"
            listed.append(Problem(index, "instance", "unknown_field", rule))
            continue
        try:
            _OBSERVATION.validate_python(instance)
        except ValidationError as error:
            listed.extend(_pydantic_problem(index, e) for e in error.errors(include_url=False))
        listed.extend(group_problems.get(index, ()))
    return listed[:MAX_LISTED_PROBLEMS]
