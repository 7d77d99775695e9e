"""The predict body's envelope: instances list or bare observation, malformed JSON, limits."""

import json

import pytest

from gateway.observations import MAX_LISTED_PROBLEMS, InvalidInstances
from gateway.payload import MalformedJson, parse_body


def test_instances_list_and_bare_observation() -> None:
    assert parse_body(b'{"instances": [{"a": 1}, {"b": 2}]}', 10) == [{"a": 1}, {"b": 2}]
    assert parse_body(b'{"Elevation": 1}', 10) == [{"Elevation": 1}]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"  ",
        b'{"instances": [',
        b"{'a': 1}",
        b"\xff\xfe{}",
        b"nul",
        b"[" * 100_000,
        b'{"Elevation": ' + b"9" * 5000 + b"}",
    ],
)
def test_malformed_json_is_its_own_error(body: bytes) -> None:
    with pytest.raises(MalformedJson):
        parse_body(body, 10)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"[1, 2]", "body"),
        (b"3", "body"),
        (b'{"instances": []}', "instances"),
        (b'{"instances": {"Elevation": 1}}', "instances"),
        (b'{"instances": [{}], "signature_name": "x"}', "signature_name"),
    ],
)
def test_wrong_envelope_names_the_field(body: bytes, field: str) -> None:
    with pytest.raises(InvalidInstances) as raised:
        parse_body(body, 10)
    assert [p.field for p in raised.value.problems] == [field]
    assert raised.value.problems[0].instance is None


def test_more_instances_than_the_maximum() -> None:
    parse_body(b'{"instances": [{}, {}, {}]}', 3)
    with pytest.raises(InvalidInstances) as raised:
        parse_body(b'{"instances": [{}, {}, {}, {}]}', 3)
    (problem,) = raised.value.problems
    assert (problem.field, problem.kind) == ("instances", "too_many")
    assert problem.rule == "at most 3 instances in one request (got 4)"


def test_duplicate_keys_are_malformed_json() -> None:
    with pytest.raises(MalformedJson, match="the key 'Elevation' appears twice"):
        parse_body(b'{"Elevation": 1, "Slope": 2, "Elevation": 3}', 3)
    with pytest.raises(MalformedJson, match="the key 'a' appears twice"):
        parse_body(b'{"instances": [{"a": 1, "a": 1}]}', 3)


def test_unknown_envelope_fields_are_listed_up_to_the_limit_and_counted() -> None:
    body = json.dumps({"instances": [{}], **{f"k{i}": 0 for i in range(5000)}}).encode()
    with pytest.raises(InvalidInstances) as raised:
        parse_body(body, 3)
    assert raised.value.count == 5000
    assert len(raised.value.problems) == MAX_LISTED_PROBLEMS
