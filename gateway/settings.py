"""The gateway's configuration: one frozen object built from flags, environment and defaults.

Precedence: a command-line flag beats its environment variable, which beats the
default from `covertype.defaults`. Environment variables exist for containers.
"""

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from covertype import defaults
from gateway.prediction_log import DEFAULT_BACKUPS, DEFAULT_MAX_BYTES


class SettingsError(ValueError):
    """An option (flag or environment variable) has a value the gateway cannot use."""


# gRPC name-resolver schemes (grpc/doc/naming.md); without one, a target is host:port.
GRPC_TARGET_SCHEMES = ("dns:", "ipv4:", "ipv6:", "unix:", "unix-abstract:")
_HOST_PORT = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})")


def check_grpc_target(target: str) -> None:
    """Raise `SettingsError` unless `target` is `host:port` or a gRPC target with a scheme."""
    if target.startswith(GRPC_TARGET_SCHEMES) and not any(c.isspace() for c in target):
        return
    match = _HOST_PORT.fullmatch(target)
    if match is None or not 0 < int(match.group(1)) <= 65535:
        raise SettingsError(
            f"tfserving must be host:port or a gRPC target starting with one of "
            f"{', '.join(GRPC_TARGET_SCHEMES)} (e.g. dns:///model-server:8500, "
            f"ipv4:10.0.0.1:8500,10.0.0.2:8500), got {target!r}"
        )


@dataclass(frozen=True)
class GatewaySettings:
    """Everything the gateway process needs to know at start-up."""

    host: str = defaults.HOST
    port: int = defaults.GATEWAY_PORT
    tfserving: str = f"{defaults.HOST}:{defaults.GRPC_PORT}"
    model_name: str = defaults.MODEL_NAME
    timeout_seconds: float = 5.0
    max_instances: int = 1000
    max_body_bytes: int = 4 * 1024 * 1024
    max_header_bytes: int = 16 * 1024
    read_timeout_seconds: float = 30.0
    max_connections: int = 1024
    client_error_rate: float = 50.0
    client_error_burst: int = 200
    max_concurrent_calls: int = 1
    max_batch_instances: int = 1024
    model_config_file: Path | None = None
    prediction_log: Path | None = None
    prediction_log_max_bytes: int = DEFAULT_MAX_BYTES
    prediction_log_backups: int = DEFAULT_BACKUPS

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"port must be between 0 and 65535, got {self.port}")
        check_grpc_target(self.tfserving)
        if not self.model_name:
            raise SettingsError("model_name must not be empty")
        if not self.timeout_seconds > 0:
            raise SettingsError(f"timeout_seconds must be > 0, got {self.timeout_seconds}")
        if self.max_instances < 1:
            raise SettingsError(f"max_instances must be >= 1, got {self.max_instances}")
        if self.max_body_bytes < 1:
            raise SettingsError(f"max_body_bytes must be >= 1, got {self.max_body_bytes}")
        if self.max_header_bytes < 1024:
            raise SettingsError(f"max_header_bytes must be >= 1024, got {self.max_header_bytes}")
        if not self.read_timeout_seconds > 0:
            raise SettingsError(
                f"read_timeout_seconds must be > 0, got {self.read_timeout_seconds}"
            )
        if self.max_connections < 1:
            raise SettingsError(f"max_connections must be >= 1, got {self.max_connections}")
        if self.client_error_rate < 0:
            raise SettingsError(
                f"client_error_rate must be >= 0 (0: no pacing), got {self.client_error_rate}"
            )
        if self.client_error_burst < 1:
            raise SettingsError(f"client_error_burst must be >= 1, got {self.client_error_burst}")
        if self.max_concurrent_calls < 1:
            raise SettingsError(
                f"max_concurrent_calls must be >= 1, got {self.max_concurrent_calls}"
            )
        if self.max_batch_instances < self.max_instances:
            raise SettingsError(
                f"max_batch_instances ({self.max_batch_instances}) must be >= "
                f"max_instances ({self.max_instances})"
            )
        if self.prediction_log_max_bytes < 0:
            raise SettingsError("prediction_log_max_bytes must be >= 0 (0: never rotate)")
        if self.prediction_log_backups < 0:
            raise SettingsError("prediction_log_backups must be >= 0")


ENV_VARS: dict[str, str] = {
    "host": "COVERTYPE_GATEWAY_HOST",
    "port": "COVERTYPE_GATEWAY_PORT",
    "tfserving": "COVERTYPE_TFSERVING",
    "model_name": "COVERTYPE_MODEL_NAME",
    "timeout_seconds": "COVERTYPE_GATEWAY_TIMEOUT_SECONDS",
    "max_instances": "COVERTYPE_GATEWAY_MAX_INSTANCES",
    "max_body_bytes": "COVERTYPE_GATEWAY_MAX_BODY_BYTES",
    "max_header_bytes": "COVERTYPE_GATEWAY_MAX_HEADER_BYTES",
    "read_timeout_seconds": "COVERTYPE_GATEWAY_READ_TIMEOUT_SECONDS",
    "max_connections": "COVERTYPE_GATEWAY_MAX_CONNECTIONS",
    "client_error_rate": "COVERTYPE_GATEWAY_CLIENT_ERROR_RATE",
    "client_error_burst": "COVERTYPE_GATEWAY_CLIENT_ERROR_BURST",
    "max_concurrent_calls": "COVERTYPE_GATEWAY_MAX_CONCURRENT_CALLS",
    "max_batch_instances": "COVERTYPE_GATEWAY_MAX_BATCH_INSTANCES",
    "model_config_file": "COVERTYPE_GATEWAY_MODEL_CONFIG_FILE",
    "prediction_log": "COVERTYPE_PREDICTION_LOG",
    "prediction_log_max_bytes": "COVERTYPE_PREDICTION_LOG_MAX_BYTES",
    "prediction_log_backups": "COVERTYPE_PREDICTION_LOG_BACKUPS",
}

_PARSERS: dict[str, Callable[[str], Any]] = {
    "host": str,
    "port": int,
    "tfserving": str,
    "model_name": str,
    "timeout_seconds": float,
    "max_instances": int,
    "max_body_bytes": int,
    "max_header_bytes": int,
    "read_timeout_seconds": float,
    "max_connections": int,
    "client_error_rate": float,
    "client_error_burst": int,
    "max_concurrent_calls": int,
    "max_batch_instances": int,
    "model_config_file": Path,
    "prediction_log": Path,
    "prediction_log_max_bytes": int,
    "prediction_log_backups": int,
}


def load_settings(
    overrides: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> GatewaySettings:
    """Build settings from explicit `overrides` (flags; None = not given), then `environ`.

    Raises `SettingsError` naming the variable when an environment value does not parse.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for field in fields(GatewaySettings):
        given = overrides.get(field.name)
        if given is not None:
            values[field.name] = given
            continue
        variable = ENV_VARS[field.name]
        raw = environ.get(variable)
        if raw is None or raw == "":
            continue
        try:
            values[field.name] = _PARSERS[field.name](raw)
        except ValueError as error:
            raise SettingsError(f"{variable}={raw!r} is not a valid {field.name}") from error
    return GatewaySettings(**values)
