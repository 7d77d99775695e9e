"""The body of `POST /v1/predict`: JSON bytes to the list of raw observations.

`{"instances": [obs, ...]}` or one bare `obs`. Shape errors are reported like
field errors (`InvalidInstances`), malformed JSON and size limits get their own
exception types so the app can answer 400 and 413.
"""

import json
from typing import Any

from gateway.observations import InvalidInstances, Problem

INSTANCES_KEY = "instances"


class MalformedJson(ValueError):
    """The body is not valid UTF-8 JSON."""


class TooManyInstances(ValueError):
    """More instances than the configured maximum."""

    def __init__(self, count: int, maximum: int) -> None:
        super().__init__(f"{count} instances in one request; the maximum is {maximum}")
        self.count = count
        self.maximum = maximum


def parse_body(body: bytes, max_instances: int) -> list[Any]:
    """Decode the body and return its raw observations, checking the envelope only."""
    if not body.strip():
        raise MalformedJson("the body is empty; send a JSON object")
    try:
        document = json.loads(body)
    except UnicodeDecodeError as error:
        raise MalformedJson(f"the body is not UTF-8: {error.reason}") from error
    except json.JSONDecodeError as error:
        raise MalformedJson(
            f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from error
    except RecursionError as error:
        raise MalformedJson("malformed JSON: nested too deeply") from error
    except ValueError as error:  # e.g. an integer literal over Python's 4300-digit limit
        raise MalformedJson(f"malformed JSON: {error}") from error
    if not isinstance(document, dict):
        rule = 'the body must be a JSON object: {"instances": [...]} or one observation'
        raise InvalidInstances([Problem(None, "body", "wrong_type", rule)])
    if INSTANCES_KEY not in document:
        return [document]
    extra = sorted(key for key in document if key != INSTANCES_KEY)
    if extra:
        rule = 'next to "instances" no other field is accepted'
        raise InvalidInstances([Problem(None, key, "unknown_field", rule) for key in extra])
    instances = document[INSTANCES_KEY]
    if not isinstance(instances, list) or not instances:
        rule = "must be a non-empty JSON array of observations"
        raise InvalidInstances([Problem(None, INSTANCES_KEY, "wrong_type", rule)])
    if len(instances) > max_instances:
        raise TooManyInstances(len(instances), max_instances)
    return instances
