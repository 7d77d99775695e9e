"""The gateway's OpenAPI document, saying exactly what the API accepts.

FastAPI derives most of it from the routes and models. Three rules of the API cannot be
derived, so they are written here from the same sources the validation uses:

- an observation gives each categorical feature exactly once: by number, or by its
  one-hot columns with exactly one of them 1 (absent columns count as 0): a `oneOf`
  per group, from `gateway.observations.GROUPS`;
- `instances` holds 1 to `max_instances` observations (a setting);
- `?version=` and `?label=` are alternatives: one query parameter, an exploded object
  with at most one property.

A schema-driven fuzzer relies on this: what the document calls valid gets 2xx, the
rest gets one of the error statuses the document lists.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import TypeAdapter

from gateway.observations import GROUPS, OneHotGroup
from gateway.schemas import ERROR_RESPONSES, PredictInstances
from gateway.settings import GatewaySettings

PREDICT_PATH = "/v1/predict"
_REF = "#/components/schemas/{model}"
_VERSION_CHOICE = ("version", "label")


def build_openapi(app: FastAPI, settings: GatewaySettings) -> dict[str, Any]:
    """The OpenAPI document of `app` served with `settings`."""
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    body = TypeAdapter(PredictInstances).json_schema(ref_template=_REF)
    schemas.update(body.pop("$defs", {}))
    body["properties"]["instances"]["maxItems"] = settings.max_instances
    schemas["PredictInstances"] = body
    schemas["Observation"] = _observation(schemas["Observation"])
    predict = document["paths"][PREDICT_PATH]["post"]
    predict["parameters"] = _one_version_choice(predict["parameters"])
    for operations in document["paths"].values():
        for operation in operations.values():
            _document_errors(operation["responses"])
    return document


def _observation(generated: dict[str, Any]) -> dict[str, Any]:
    """The generated Observation schema with each categorical group's `oneOf`."""
    for field in generated["properties"].values():
        field.pop("default", None)  # optional fields have no default: absent is not null
    generated["allOf"] = [_one_encoding(group) for group in GROUPS]
    return generated


def _one_encoding(group: OneHotGroup) -> dict[str, Any]:
    """Exactly one of: the group's number, or its one-hot columns with exactly one 1."""
    by_number = {
        "required": [group.compact_field],
        "not": {"anyOf": [{"required": [column]} for column in group.columns]},
    }
    by_columns = [
        {
            "required": [chosen],
            "properties": {column: {"const": int(column == chosen)} for column in group.columns},
            "not": {"required": [group.compact_field]},
        }
        for chosen in group.columns
    ]
    return {"oneOf": [by_number, *by_columns]}


def _one_version_choice(parameters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`version` and `label` as one exploded object parameter with at most one property."""
    properties = {}
    for parameter in parameters:
        if parameter["name"] in _VERSION_CHOICE:
            (schema,) = (s for s in parameter["schema"]["anyOf"] if s["type"] != "null")
            properties[parameter["name"]] = {**schema, "description": parameter["description"]}
    others = [p for p in parameters if p["name"] not in _VERSION_CHOICE]
    choice = {
        "name": "version_choice",
        "in": "query",
        "required": False,
        "style": "form",
        "explode": True,
        "description": (
            "at most one of `version` (a version number) and `label` (a version label); "
            "neither: the latest available version"
        ),
        "schema": {
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
            "maxProperties": 1,
        },
    }
    return [*others, choice]


def _document_errors(responses: dict[str, Any]) -> None:
    """What any route may answer: a bug (500), or a client too slow or too large for the
    connection's limits (408, 431), in the gateway's error shape."""
    for status in (408, 431, 500):
        responses.setdefault(
            str(status),
            {
                "description": ERROR_RESPONSES[status]["description"],
                "content": {
                    "application/json": {"schema": {"$ref": _REF.format(model="ErrorBody")}}
                },
            },
        )
