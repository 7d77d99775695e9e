"""`covertype serve` flags: TF Serving's names and defaults, both spellings, clear errors."""

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tfserving.flags import (
    TF_SERVING_FLAGS,
    build_parser,
    resolve,
    tfserving_argv,
    unsupported_by_local,
)


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_both_spellings_and_all_boolean_forms() -> None:
    args = parse(
        "--port=9000",
        "--rest_api_port",
        "9001",
        "--enable_batching",
        "--enable_model_warmup=false",
        "--allow_version_labels_for_unavailable_models",
        "TRUE",
        "--model_base_path=/models/covertype",
    )
    options = resolve(args)
    assert (options.port, options.rest_api_port) == (9000, 9001)
    assert options.enable_batching is True
    assert options.enable_model_warmup is False
    assert options.allow_version_labels_for_unavailable_models is True


def test_defaults_are_tf_servings() -> None:
    options = resolve(parse())
    cpus = os.cpu_count() or 1
    assert options.port == 8500
    assert options.rest_api_port == 0
    assert options.model_name == "default"
    assert options.file_system_poll_wait_seconds == 1
    assert options.model_config_file_poll_wait_seconds == 0
    assert options.enable_batching is False
    assert options.enable_model_warmup is True
    assert options.max_num_load_retries == 5
    assert options.load_retry_interval_micros == 60_000_000
    assert options.grpc_max_threads == options.rest_api_num_threads == 4 * cpus
    assert options.bind_address == "127.0.0.1"


@pytest.mark.parametrize(
    "argv",
    [["--no_such_flag=1"], ["--port=eighty"], ["--enable_batching=maybe"], ["--model_base=/x"]],
)
def test_bad_flags_exit_with_status_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(*argv)
    assert exited.value.code == 2
    assert argv[0].split("=")[0] in capsys.readouterr().err


def test_only_given_flags_are_forwarded_to_tensorflow_model_server() -> None:
    args = parse(
        "--backend=tfserving",
        "--bind_address=0.0.0.0",
        "--port",
        "8500",
        "--enable_batching",
        "--enable_model_warmup=false",
        "--ssl_config_file=/ssl.config",
    )
    assert tfserving_argv(args) == [
        "--port=8500",
        "--enable_batching=true",
        "--ssl_config_file=/ssl.config",
        "--enable_model_warmup=false",
    ]


def test_flags_the_local_server_lacks_are_named() -> None:
    args = parse("--ssl_config_file=/ssl.config", "--grpc_channel_arguments=a=1", "--port=1")
    assert unsupported_by_local(args) == ["ssl_config_file", "grpc_channel_arguments"]
    assert {f.name for f in TF_SERVING_FLAGS if f.local} >= {
        "port",
        "rest_api_port",
        "model_name",
        "model_base_path",
        "model_config_file",
        "model_config_file_poll_wait_seconds",
        "file_system_poll_wait_seconds",
        "enable_batching",
        "batching_parameters_file",
        "monitoring_config_file",
        "enable_model_warmup",
    }


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
        "--model_name",
        "covertype",
        "--enable_batching",
        "--bind_address=0.0.0.0",
        path=f"{tmp_path}{os.pathsep}{os.environ['PATH']}",
    )
    assert result.returncode == 0, result.stderr
    assert recorded.read_text().split() == [
        "--port=9000",
        "--enable_batching=true",
        "--model_name=covertype",
    ]
    assert "--bind_address is not a TF Serving flag" in result.stderr


def test_forcing_the_tfserving_backend_without_the_binary_fails(tmp_path: Path) -> None:
    result = serve("--backend=tfserving", "--port=9000", path=str(tmp_path))
    assert result.returncode == 2
    assert "tensorflow_model_server on PATH" in result.stderr


def test_the_local_backend_refuses_flags_it_does_not_implement() -> None:
    result = serve("--backend=local", "--ssl_config_file=/ssl.config")
    assert result.returncode == 2
    assert "does not implement --ssl_config_file" in result.stderr


def test_the_local_backend_needs_a_model() -> None:
    result = serve("--backend=local", "--port=0")
    assert result.returncode == 1
    assert "model_base_path and server_options.model_config_file are empty" in result.stderr


def test_unknown_flags_fail_clearly() -> None:
    result = serve("--modelname=covertype")
    assert result.returncode == 2
    assert "unrecognized arguments: --modelname=covertype" in result.stderr
