"""Pydantic models of the REST API's bodies, for the OpenAPI document, with working examples.

The request observation model lives in `gateway.observations` (it also validates);
responses are built as plain JSON on the hot path, and these models describe them.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from covertype import schema
from covertype.schema import EXAMPLE_OBSERVATION
from gateway.observations import MAX_LISTED_PROBLEMS, Observation

_ROW_ID1: dict[str, float] = {name: EXAMPLE_OBSERVATION[name] for name in schema.NUMERIC_COLUMNS}
_ROW_ID1998: dict[str, float] = {
    "Elevation": 2003,
    "Aspect": 355,
    "Slope": 6,
    "Horizontal_Distance_To_Hydrology": 0,
    "Vertical_Distance_To_Hydrology": 0,
    "Horizontal_Distance_To_Roadways": 127,
    "Hillshade_9am": 211,
    "Hillshade_Noon": 230,
    "Hillshade_3pm": 157,
    "Horizontal_Distance_To_Fire_Points": 283,
}


def _one_hot(wilderness_area: int, soil_type: int) -> dict[str, int]:
    columns = {c: 0 for c in schema.WILDERNESS_COLUMNS + schema.SOIL_COLUMNS}
    columns[f"Wilderness_Area{wilderness_area}"] = 1
    columns[f"Soil_Type{soil_type}"] = 1
    return columns


PREDICT_EXAMPLES: dict[str, dict[str, Any]] = {
    "one observation": {
        "summary": "A single bare observation, categorical features by number",
        "value": {**_ROW_ID1, "wilderness_area": 1, "soil_type": 29},
    },
    "batch": {
        "summary": "Several observations, categorical features by number",
        "value": {
            "instances": [
                {**_ROW_ID1, "wilderness_area": 1, "soil_type": 29},
                {**_ROW_ID1998, "wilderness_area": 4, "soil_type": 17},
            ]
        },
    },
    "dataset columns": {
        "summary": "A row of the Kaggle CSV: the 54 feature columns, one-hot groups as given",
        "value": {"instances": [{**_ROW_ID1, **_one_hot(1, 29)}]},
    },
}


class PredictInstances(BaseModel):
    """`{"instances": [...]}`: observations scored in one call (at most --max-instances)."""

    model_config = ConfigDict(extra="forbid")

    instances: list[Observation] = Field(min_length=1)  # type: ignore[valid-type]


class CoverTypePrediction(BaseModel):
    """The answer for one instance."""

    cover_type: int = Field(ge=1, le=schema.NUM_CLASSES, description="class id 1..7")
    cover_type_name: str = Field(description="class name, e.g. Spruce/Fir")
    probabilities: dict[str, float] = Field(description="probability of each class, by name")


class PredictResponseBody(BaseModel):
    """Predictions, one per instance in request order, and the version that made them."""

    model_name: str
    model_version: int
    predictions: list[CoverTypePrediction]


class ProblemBody(BaseModel):
    """One broken rule of the request."""

    instance: int | None = Field(description="index in instances (0 for a bare observation)")
    field: str
    kind: str = Field(
        description=(
            "missing_feature, out_of_domain, wrong_type, unknown_field, one_hot, too_many, "
            "unscorable, invalid"
        )
    )
    rule: str


class ErrorBody(BaseModel):
    """Every error response."""

    error: str = Field(description="machine-readable error code")
    message: str
    request_id: str
    problems: list[ProblemBody] | None = Field(
        None, description=f"the first {MAX_LISTED_PROBLEMS} problems, in instance order"
    )
    problem_count: int | None = Field(None, description="how many problems there are in all")


class VersionStatusBody(BaseModel):
    """One version of the model as the model server reports it."""

    version: int
    state: str = Field(description="UNKNOWN, START, LOADING, AVAILABLE, UNLOADING or END")
    labels: list[str] | None = Field(description="labels pointing at it; null if unknown")
    error: str | None = Field(description="the server's error message for this version, if any")


class ModelsBody(BaseModel):
    """The model's versions and states, with labels when the gateway knows them."""

    model_name: str
    versions: list[VersionStatusBody]
    labels: dict[str, int] | None = Field(description="label -> version; null if unknown")
    labels_source: str = Field(description="where the labels come from, or why they are unknown")


class ReadyBody(BaseModel):
    """Readiness: true once the model server has shown an AVAILABLE version."""

    ready: bool
    model_name: str
    ready_since: float | None = Field(
        None, description="Unix time at which this gateway became ready"
    )
    reason: str | None = Field(None, description="why the gateway is not ready yet")


class HealthBody(BaseModel):
    """Liveness of the gateway process itself."""

    status: str


def _errors(descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": ErrorBody, "description": text} for status, text in descriptions.items()
    }


ERROR_RESPONSES = _errors(
    {
        400: "malformed JSON (duplicate keys included), or rejected by the model server",
        404: "unknown model, version or label",
        408: "the request was not received within the read timeout",
        413: "body or instance count over the limit",
        415: "the body is not declared as JSON",
        422: "invalid input: the problems listed (and counted), or invalid query parameters",
        431: "request line and headers over the limit",
        500: "a bug in the gateway",
        502: "the model server failed or answered nonsense",
        503: "the model server is unavailable, or too many large requests are being decoded "
        "(Retry-After)",
        504: "the model server did not answer in time",
    }
)
PREDICT_ERRORS = ERROR_RESPONSES
MODELS_ERRORS = {s: ERROR_RESPONSES[s] for s in (404, 408, 431, 500, 502, 503, 504)}
