"""The slim messages are wire-compatible with TF Serving's official ones, both ways.

Each case builds the same content into a slim and an official message (through
`json_format.ParseDict`, so one description drives both), then checks that the
deterministic bytes are identical and that each side parses the other's bytes back
to the same bytes. Comparisons are on bytes because NaN != NaN.
"""

import base64
import math
import struct
import sys
from typing import Any

import pytest
from google.protobuf import json_format, text_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from tensorflow.core.framework import tensor_pb2 as official_tensor
from tensorflow.core.framework import tensor_shape_pb2 as official_shape
from tensorflow.core.framework import types_pb2 as official_types
from tensorflow_serving.apis import get_model_status_pb2 as official_status
from tensorflow_serving.apis import model_pb2 as official_model
from tensorflow_serving.apis import predict_pb2 as official_predict
from tensorflow_serving.apis import status_pb2 as official_status_proto
from tensorflow_serving.config import model_server_config_pb2 as official_config

from protos.slim import (
    error_codes_pb2,
    get_model_status_pb2,
    model_pb2,
    model_server_config_pb2,
    predict_pb2,
    status_pb2,
    tensor_pb2,
    tensor_shape_pb2,
    types_pb2,
)

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
UINT64_MAX = 2**64 - 1

PAIRS: list[tuple[type[Message], type[Message]]] = [
    (tensor_shape_pb2.TensorShapeProto, official_shape.TensorShapeProto),
    (tensor_pb2.TensorProto, official_tensor.TensorProto),
    (model_pb2.ModelSpec, official_model.ModelSpec),
    (predict_pb2.PredictRequest, official_predict.PredictRequest),
    (predict_pb2.PredictResponse, official_predict.PredictResponse),
    (status_pb2.StatusProto, official_status_proto.StatusProto),
    (get_model_status_pb2.GetModelStatusRequest, official_status.GetModelStatusRequest),
    (get_model_status_pb2.ModelVersionStatus, official_status.ModelVersionStatus),
    (get_model_status_pb2.GetModelStatusResponse, official_status.GetModelStatusResponse),
    (model_server_config_pb2.ModelServerConfig, official_config.ModelServerConfig),
    (model_server_config_pb2.ModelConfig, official_config.ModelConfig),
]


def _pack(code: str, values: list[Any]) -> str:
    """Little-endian bytes, base64 as JSON renders `bytes` fields."""
    return base64.b64encode(struct.pack(f"<{len(values)}{code}", *values)).decode()


def _matrix(rows: int, width: int) -> dict[str, Any]:
    values = [float(i % 997) - 3.5 for i in range(rows * width)]
    return {
        "dtype": "DT_FLOAT",
        "tensorShape": {"dim": [{"size": str(rows)}, {"size": str(width)}]},
        "tensorContent": _pack("f", values),
    }


EDGE_FLOATS = ["NaN", "Infinity", "-Infinity", -0.0, 1.4e-45, 3.4028234663852886e38, -1.5]

CASES: list[tuple[type[Message], type[Message], dict[str, Any]]] = [
    (model_pb2.ModelSpec, official_model.ModelSpec, {}),
    (model_pb2.ModelSpec, official_model.ModelSpec, {"name": "covertype"}),
    (model_pb2.ModelSpec, official_model.ModelSpec, {"name": "m", "version": "0"}),
    (model_pb2.ModelSpec, official_model.ModelSpec, {"name": "m", "version": "-1"}),
    (model_pb2.ModelSpec, official_model.ModelSpec, {"version": str(INT64_MAX)}),
    (model_pb2.ModelSpec, official_model.ModelSpec, {"version": str(INT64_MIN)}),
    (
        model_pb2.ModelSpec,
        official_model.ModelSpec,
        {"name": "forêt", "versionLabel": "étiquette-🌲", "signatureName": "predict_matrix"},
    ),
    (model_pb2.ModelSpec, official_model.ModelSpec, {"versionLabel": ""}),
    (tensor_pb2.TensorProto, official_tensor.TensorProto, {}),
    (tensor_pb2.TensorProto, official_tensor.TensorProto, _matrix(1, 54)),
    (tensor_pb2.TensorProto, official_tensor.TensorProto, _matrix(1000, 54)),
    (
        tensor_pb2.TensorProto,
        official_tensor.TensorProto,
        {
            "dtype": "DT_FLOAT",
            "tensorShape": {"dim": [{"size": str(len(EDGE_FLOATS))}]},
            "floatVal": EDGE_FLOATS,
        },
    ),
    (
        tensor_pb2.TensorProto,
        official_tensor.TensorProto,
        {
            "dtype": "DT_DOUBLE",
            "doubleVal": ["NaN", "-Infinity", 5e-324, 1.7976931348623157e308],
            "halfVal": [0, 65535],
            "scomplexVal": [1.0, -1.0],
            "dcomplexVal": [2.0, -2.0],
        },
    ),
    (
        tensor_pb2.TensorProto,
        official_tensor.TensorProto,
        {
            "dtype": "DT_INT64",
            "tensorShape": {"dim": [{"size": "4"}]},
            "int64Val": [str(INT64_MIN), "-1", "0", str(INT64_MAX)],
            "intVal": [-(2**31), 2**31 - 1],
            "uint32Val": [0, 2**32 - 1],
            "uint64Val": ["0", str(UINT64_MAX)],
            "boolVal": [True, False],
            "versionNumber": -7,
        },
    ),
    (
        tensor_pb2.TensorProto,
        official_tensor.TensorProto,
        {
            "dtype": "DT_INT64",
            "tensorShape": {"dim": [{"size": "3"}]},
            "tensorContent": _pack("q", [INT64_MIN, 0, INT64_MAX]),
        },
    ),
    (
        tensor_pb2.TensorProto,
        official_tensor.TensorProto,
        {"dtype": "DT_STRING", "stringVal": ["", "Zm9yw6p0IPCfjLI=", "AAEC/w=="]},
    ),
    (
        tensor_shape_pb2.TensorShapeProto,
        official_shape.TensorShapeProto,
        {
            "dim": [
                {"size": str(2**40), "name": "batch"},
                {"size": "-1", "name": "unknown ✓"},
                {"size": str(INT64_MAX)},
            ]
        },
    ),
    (tensor_shape_pb2.TensorShapeProto, official_shape.TensorShapeProto, {"unknownRank": True}),
    (predict_pb2.PredictRequest, official_predict.PredictRequest, {}),
    (
        predict_pb2.PredictRequest,
        official_predict.PredictRequest,
        {
            "modelSpec": {"name": "covertype", "version": "3", "signatureName": "predict_matrix"},
            "inputs": {"features": _matrix(16, 54), "second ✓": {"dtype": "DT_FLOAT"}},
            "outputFilter": ["cover_type", "probabilities"],
        },
    ),
    (
        predict_pb2.PredictRequest,
        official_predict.PredictRequest,
        {
            "modelSpec": {"name": "covertype", "versionLabel": "canary"},
            "inputs": {
                "Elevation": {
                    "dtype": "DT_FLOAT",
                    "tensorShape": {"dim": [{"size": "2"}]},
                    "floatVal": [2596.0, "NaN"],
                }
            },
        },
    ),
    (
        predict_pb2.PredictResponse,
        official_predict.PredictResponse,
        {
            "modelSpec": {"name": "covertype", "version": "2", "signatureName": "predict_matrix"},
            "outputs": {
                "cover_type": {
                    "dtype": "DT_INT64",
                    "tensorShape": {"dim": [{"size": "2"}]},
                    "tensorContent": _pack("q", [1, 7]),
                },
                "probabilities": {
                    "dtype": "DT_FLOAT",
                    "tensorShape": {"dim": [{"size": "2"}, {"size": "7"}]},
                    "floatVal": [0.5, 0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                },
            },
        },
    ),
    (predict_pb2.PredictResponse, official_predict.PredictResponse, {}),
    (status_pb2.StatusProto, official_status_proto.StatusProto, {}),
    (
        status_pb2.StatusProto,
        official_status_proto.StatusProto,
        {"error_code": "UNAVAILABLE", "error_message": "Servable not found ✗"},
    ),
    (get_model_status_pb2.GetModelStatusRequest, official_status.GetModelStatusRequest, {}),
    (
        get_model_status_pb2.GetModelStatusRequest,
        official_status.GetModelStatusRequest,
        {"modelSpec": {"name": "covertype", "versionLabel": "stable"}},
    ),
    (get_model_status_pb2.GetModelStatusResponse, official_status.GetModelStatusResponse, {}),
    (
        get_model_status_pb2.GetModelStatusResponse,
        official_status.GetModelStatusResponse,
        {
            "model_version_status": [
                {"version": str(INT64_MAX), "state": "AVAILABLE", "status": {}},
                {"version": "-1", "state": "LOADING"},
                {"version": "0", "state": "UNKNOWN"},
                {
                    "version": "3",
                    "state": "END",
                    "status": {"error_code": "NOT_FOUND", "error_message": "gone ✗"},
                },
                {"version": "4", "state": "START"},
                {"version": "5", "state": "UNLOADING"},
            ]
        },
    ),
    (
        model_server_config_pb2.ModelServerConfig,
        official_config.ModelServerConfig,
        {
            "modelConfigList": {
                "config": [
                    {
                        "name": "covertype",
                        "basePath": "/models/covertype",
                        "modelPlatform": "tensorflow",
                        "versionLabels": {"stable": "1", "canary": str(INT64_MAX), "ü": "-2"},
                    },
                    {"name": "other"},
                ]
            }
        },
    ),
]


def _both(slim_type: type[Message], official_type: type[Message], content: dict[str, Any]):
    return (
        json_format.ParseDict(content, slim_type()),
        json_format.ParseDict(content, official_type()),
    )


def _bytes(message: Message) -> bytes:
    return message.SerializeToString(deterministic=True)


@pytest.mark.parametrize(
    ("slim_type", "official_type", "content"),
    CASES,
    ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)],
)
def test_same_content_gives_same_bytes_and_parses_both_ways(
    slim_type: type[Message], official_type: type[Message], content: dict[str, Any]
) -> None:
    slim, official = _both(slim_type, official_type, content)
    assert _bytes(slim) == _bytes(official)

    from_slim = official_type.FromString(slim.SerializeToString())
    from_official = slim_type.FromString(official.SerializeToString())
    assert _bytes(from_slim) == _bytes(official)
    assert _bytes(from_official) == _bytes(slim)
    # Every field was understood, none kept only as unknown bytes:
    assert json_format.MessageToDict(
        from_official, preserving_proto_field_name=True
    ) == json_format.MessageToDict(official, preserving_proto_field_name=True)
    assert json_format.MessageToDict(
        from_slim, preserving_proto_field_name=True
    ) == json_format.MessageToDict(slim, preserving_proto_field_name=True)


def test_oneof_version_choice_survives_the_round_trip() -> None:
    slim = model_pb2.ModelSpec(name="covertype")
    slim.version.value = 0
    official = official_model.ModelSpec.FromString(slim.SerializeToString())
    assert official.WhichOneof("version_choice") == "version"
    assert official.version.value == 0

    official.version_label = "stable"
    back = model_pb2.ModelSpec.FromString(official.SerializeToString())
    assert back.WhichOneof("version_choice") == "version_label"
    assert back.version_label == "stable"


def test_edge_floats_keep_their_bits() -> None:
    slim = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT)
    slim.float_val.extend([math.nan, math.inf, -math.inf, -0.0])
    official = official_tensor.TensorProto.FromString(slim.SerializeToString())
    values = list(official.float_val)
    assert math.isnan(values[0])
    assert values[1:3] == [math.inf, -math.inf]
    assert math.copysign(1.0, values[3]) == -1.0


def test_fields_the_slim_tensor_leaves_out_are_kept_as_unknown_fields() -> None:
    official = official_tensor.TensorProto(dtype=official_types.DT_VARIANT)
    official.variant_val.add(type_name="list", metadata=b"\x00\x01")
    official.resource_handle_val.add(device="/cpu:0", name="h")
    official.float8_val = b"\x01\x02"
    slim = tensor_pb2.TensorProto.FromString(official.SerializeToString())
    assert slim.dtype == types_pb2.DT_VARIANT
    again = official_tensor.TensorProto.FromString(slim.SerializeToString())
    assert again == official


def test_models_config_text_reads_the_same_labels_as_the_official_parser() -> None:
    text = """
    model_config_list {
      config {
        name: "covertype"
        base_path: "/models/covertype"
        model_platform: "tensorflow"
        model_version_policy { specific { versions: 1 versions: 2 } }
        version_labels { key: "stable" value: 1 }
        version_labels { key: "canary" value: 2 }
      }
    }
    """
    official = text_format.Parse(text, official_config.ModelServerConfig())
    slim = text_format.Parse(
        text, model_server_config_pb2.ModelServerConfig(), allow_unknown_field=True
    )
    assert dict(slim.model_config_list.config[0].version_labels) == dict(
        official.model_config_list.config[0].version_labels
    )


def _assert_same_fields(slim: Descriptor, official: Descriptor) -> None:
    for field in slim.fields:
        twin = official.fields_by_name.get(field.name)
        assert twin is not None, f"{official.full_name} has no field {field.name}"
        where = f"{slim.full_name}.{field.name}"
        assert field.number == twin.number, where
        assert field.type == twin.type, where
        assert field.json_name == twin.json_name, where
        assert field.is_repeated == twin.is_repeated, where
        assert (field.containing_oneof is None) == (twin.containing_oneof is None), where
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            _assert_same_fields(field.message_type, twin.message_type)
        if field.type == FieldDescriptor.TYPE_ENUM:
            official_numbers = {v.name: v.number for v in twin.enum_type.values}
            for value in field.enum_type.values:
                assert official_numbers.get(value.name) == value.number, f"{where}={value.name}"


@pytest.mark.parametrize(("slim_type", "official_type"), PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_every_slim_field_has_the_official_number_and_type(
    slim_type: type[Message], official_type: type[Message]
) -> None:
    _assert_same_fields(slim_type.DESCRIPTOR, official_type.DESCRIPTOR)


def test_enums_match_the_official_numbers() -> None:
    for slim_enum, official_enum in [
        (types_pb2.DataType, official_types.DataType),
        (
            error_codes_pb2.ErrorCode,
            official_status_proto.StatusProto.DESCRIPTOR.fields_by_name["error_code"].enum_type,
        ),
    ]:
        descriptor = getattr(official_enum, "DESCRIPTOR", official_enum)
        official_numbers = {v.name: v.number for v in descriptor.values}
        for value in slim_enum.DESCRIPTOR.values:
            assert official_numbers[value.name] == value.number, value.name


def test_slim_and_official_descriptors_coexist_in_one_process() -> None:
    assert "tensorflow_serving.apis.predict_pb2" in sys.modules
    assert predict_pb2.PredictRequest.DESCRIPTOR.full_name == "covertype.slim.PredictRequest"
    assert official_predict.PredictRequest.DESCRIPTOR.full_name == (
        "tensorflow.serving.PredictRequest"
    )
