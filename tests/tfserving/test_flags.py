"""`covertype serve` flags: tensorflow_model_server's names, defaults and grammar."""

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tfserving.flags import (
    TF_SERVING_FLAGS,
    FlagError,
    Support,
    build_parser,
    ignored_by_local,
    parse_serve_args,
    resolve,
    tfserving_argv,
    unsupported_by_local,
)


def parse(*argv: str) -> argparse.Namespace:
    return parse_serve_args(list(argv))


def test_the_forms_tf_servings_parser_accepts() -> None:
    args = parse(
        "--port=9000",
        "--rest_api_port=+9001",
        "--enable_batching",
        "--enable_model_warmup=FALSE",
        "--allow_version_labels_for_unavailable_models=1",
        "--model_base_path=/models/covertype",
        "--model_name=",
        "--load_retry_interval_micros=9000000000",
        "--per_process_gpu_memory_fraction=.5",
        "--grpc_channel_arguments=a=1,b=x",
        "--port=9002",  # the last occurrence wins
    )
    options = resolve(args)
    assert (options.port, options.rest_api_port) == (9002, 9001)
    assert options.enable_batching is True
    assert options.enable_model_warmup is False
    assert options.allow_version_labels_for_unavailable_models is True
    assert options.model_name == ""
    assert options.load_retry_interval_micros == 9_000_000_000
    assert options.per_process_gpu_memory_fraction == 0.5
    assert options.grpc_channel_arguments == "a=1,b=x"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "9000"], "unknown argument: --port (tensorflow_model_server reads only"),
        (["--enable_batching", "TRUE"], "unknown argument: TRUE"),
        (["--model_name", "covertype"], "unknown argument: --model_name"),
        (["covertype"], "unknown argument: covertype"),
        (["-port=1"], "unknown argument: -port=1 (flags start with --)"),
        (["--modelname=covertype"], "unknown argument: --modelname=covertype"),
        (["--port=eighty"], "Couldn't interpret value eighty for flag port."),
        (["--port=80x"], "Couldn't interpret value 80x for flag port."),
        (["--port=1.5"], "Couldn't interpret value 1.5 for flag port."),
        (["--port=2147483648"], "Couldn't interpret value 2147483648 for flag port."),
        (["--enable_batching=yes"], "Couldn't interpret value yes for flag enable_batching."),
        (["--enable_batching="], "Couldn't interpret value  for flag enable_batching."),
        (["--per_process_gpu_memory_fraction=half"], "Couldn't interpret value half for flag"),
        (["--backend=docker"], "--backend must be one of auto, local, tfserving"),
    ],
)
def test_what_tf_servings_parser_rejects(argv: list[str], message: str) -> None:
    with pytest.raises(FlagError) as raised:
        parse(*argv)
    assert str(raised.value).startswith(message)


def test_the_launchers_own_flags_take_either_form() -> None:
    args = parse("--backend", "local", "--bind_address=0.0.0.0", "--port=1")
    assert (args.backend, args.bind_address, args.port) == ("local", "0.0.0.0", 1)
    assert parse().backend == "auto"


def test_defaults_are_tf_servings() -> None:
    options = resolve(parse())
    cpus = os.cpu_count() or 1
    assert options.port == 8500
    assert options.grpc_socket_path == ""
    assert options.rest_api_port == 0
    assert options.rest_api_timeout_in_ms == 30000
    assert options.model_name == "default"
    assert options.file_system_poll_wait_seconds == 1
    assert options.model_config_file_poll_wait_seconds == 0
    assert options.enable_batching is False
    assert options.enable_model_warmup is True
    assert options.max_num_load_retries == 5
    assert options.load_retry_interval_micros == 60_000_000
    assert options.grpc_max_threads == options.rest_api_num_threads == 4 * cpus
    assert options.saved_model_tags == "serve"
    assert options.enable_signature_method_name_check is False
    assert options.enable_grpc_healthcheck_service is False
    assert options.enable_serialization_as_tensor_content is False
    assert options.bind_address == "127.0.0.1"


def test_the_parser_exits_like_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--port", "1"])
    assert exited.value.code == 2
    assert "error: unknown argument: --port" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    for flag in TF_SERVING_FLAGS:
        assert f"--{flag.name}=" in shown
    assert "--num_load_threads=0" in shown and "ignored: only tunes TF Serving's C++" in shown
    assert "refused: the local server has no TF Lite runtime" in shown


def test_only_given_flags_are_forwarded_to_tensorflow_model_server() -> None:
    args = parse(
        "--backend=tfserving",
        "--bind_address=0.0.0.0",
        "--port=8500",
        "--enable_batching",
        "--enable_model_warmup=false",
        "--ssl_config_file=/ssl.config",
        "--per_process_gpu_memory_fraction=0.25",
    )
    assert tfserving_argv(args) == [
        "--port=8500",
        "--enable_batching=true",
        "--ssl_config_file=/ssl.config",
        "--per_process_gpu_memory_fraction=0.25",
        "--enable_model_warmup=false",
    ]


def test_each_flag_is_implemented_ignored_or_refused_by_the_local_server() -> None:
    args = parse(
        "--prefer_tflite_model=true",
        "--platform_config_file=/p.config",
        "--num_load_threads=4",
        "--enable_profiler=false",
        "--ssl_config_file=/ssl.config",
    )
    assert unsupported_by_local(args) == ["platform_config_file", "prefer_tflite_model"]
    assert ignored_by_local(args) == ["num_load_threads", "enable_profiler"]
    assert unsupported_by_local(parse("--prefer_tflite_model=false")) == []
    refused = {f.name for f in TF_SERVING_FLAGS if f.support is Support.REFUSED}
    assert refused == {"platform_config_file", "prefer_tflite_model"}
    assert all(f.note for f in TF_SERVING_FLAGS if f.support is not Support.IMPLEMENTED)


def serve(*argv: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "covertype.cli", "serve", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_the_tfserving_backend_execs_the_binary_with_the_flags(tmp_path: Path) -> None:
    recorded = tmp_path / "argv.txt"
    binary = tmp_path / "tensorflow_model_server"
    binary.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {recorded}\n')
    binary.chmod(0o755)
    result = serve(
        "--port=9000",
        "--model_name=covertype",
        "--enable_batching",
        "--bind_address",
        "0.0.0.0",
        "--grpc_channel_arguments=grpc.max_connection_age_ms=2000",
        path=f"{tmp_path}{os.pathsep}{os.environ['PATH']}",
    )
    assert result.returncode == 0, result.stderr
    assert recorded.read_text().split() == [
        "--port=9000",
        "--enable_batching=true",
        "--model_name=covertype",
        "--grpc_channel_arguments=grpc.max_connection_age_ms=2000",
    ]
    assert "--bind_address is not a TF Serving flag" in result.stderr


def test_forcing_the_tfserving_backend_without_the_binary_fails(tmp_path: Path) -> None:
    result = serve("--backend=tfserving", "--port=9000", path=str(tmp_path))
    assert result.returncode == 2
    assert "tensorflow_model_server on PATH" in result.stderr


def test_the_local_backend_refuses_what_it_cannot_honour() -> None:
    result = serve("--backend=local", "--prefer_tflite_model")
    assert result.returncode == 2
    assert "does not implement --prefer_tflite_model" in result.stderr


def test_a_bad_command_line_exits_2_naming_the_argument() -> None:
    result = serve("--backend=local", "--rest_api_port", "8501")
    assert result.returncode == 2
    assert "unknown argument: --rest_api_port" in result.stderr


def test_port_0_needs_a_socket_path_and_a_model_is_needed() -> None:
    result = serve("--backend=local", "--port=0", "--model_base_path=/models/m")
    assert result.returncode == 1
    assert (
        "At least one of server_options.grpc_port or server_options.grpc_socket_path must be set."
    ) in result.stderr
    result = serve("--backend=local", "--port=0", "--grpc_socket_path=/tmp/unused.sock")
    assert result.returncode == 1
    assert "model_base_path and server_options.model_config_file are empty" in result.stderr
