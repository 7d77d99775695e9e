"""The body of `POST /v1/predict`: JSON bytes to the list of raw observations.

`{"instances": [obs, ...]}` or one bare `obs`. Shape errors, and more instances
than allowed, are reported like field errors (`InvalidInstances`); malformed JSON
(duplicate keys included) gets its own exception type so the app can answer 400.
"""

import json
from typing import Any

from gateway.observations import MAX_LISTED_PROBLEMS as MAX_LISTED
from gateway.observations import InvalidInstances, Problem, field_name

INSTANCES_KEY = "instances"


class MalformedJson(ValueError):
    """The body is not valid UTF-8 JSON."""


class _DuplicateKey(ValueError):
    """A JSON object names the same key twice (which one would count is ambiguous)."""


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(f"the key {field_name(key)!r} appears twice in an object")
            seen.add(key)
    return document


_DECODER = json.JSONDecoder(object_pairs_hook=_object_without_duplicates)


def parse_body(body: bytes, max_instances: int) -> list[Any]:
    """Decode the body and return its raw observations, checking the envelope only."""
    if not body.strip():
        raise MalformedJson("the body is empty; send a JSON object")
    try:
        document = _DECODER.decode(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise MalformedJson(f"the body is not UTF-8: {error.reason}") from error
    except _DuplicateKey as error:
        raise MalformedJson(str(error)) from error
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
        listed = extra[:MAX_LISTED]
        problems = [Problem(None, field_name(key), "unknown_field", rule) for key in listed]
        raise InvalidInstances(problems, len(extra))
    instances = document[INSTANCES_KEY]
    if not isinstance(instances, list) or not instances:
        rule = "must be a non-empty JSON array of observations"
        raise InvalidInstances([Problem(None, INSTANCES_KEY, "wrong_type", rule)])
    if len(instances) > max_instances:
        rule = f"at most {max_instances} instances in one request (got {len(instances)})"
        raise InvalidInstances([Problem(None, INSTANCES_KEY, "too_many", rule)])
    return instances
