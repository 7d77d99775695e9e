"""Reading TF Serving's text-format config files with their protos, never by hand.

`models.config` is a `tensorflow.serving.ModelServerConfig` (official proto);
`batching.config` and `monitoring.config` use the wire- and text-compatible
subsets in `protos/tfserving_config/`.
"""

from pathlib import Path

from google.protobuf import message, text_format
from tensorflow_serving.config import model_server_config_pb2

from protos.tfserving_config import batching_pb2, monitoring_pb2

DEFAULT_PROMETHEUS_PATH = "/monitoring/prometheus/metrics"
TENSORFLOW_PLATFORM = "tensorflow"


class ConfigFileError(Exception):
    """A config file is missing or is not valid text format for its proto."""


def _parse(path: str | Path, proto: message.Message) -> message.Message:
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise ConfigFileError(f"cannot read {path}: {error.strerror or error}") from error
    try:
        return text_format.Parse(text, proto)
    except text_format.ParseError as error:
        raise ConfigFileError(f"Invalid protobuf file: '{path}': {error}") from error


def read_model_server_config(path: str | Path) -> model_server_config_pb2.ModelServerConfig:
    """Parse a `--model_config_file`."""
    return _parse(path, model_server_config_pb2.ModelServerConfig())


def single_model_config(
    model_name: str, model_base_path: str
) -> model_server_config_pb2.ModelServerConfig:
    """The config TF Serving builds from `--model_name` and `--model_base_path`."""
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = model_name
    model.base_path = model_base_path
    model.model_platform = TENSORFLOW_PLATFORM
    return config


def read_batching_parameters(path: str | Path) -> batching_pb2.BatchingParameters:
    """Parse a `--batching_parameters_file`."""
    return _parse(path, batching_pb2.BatchingParameters())


def read_monitoring_config(path: str | Path) -> monitoring_pb2.MonitoringConfig:
    """Parse a `--monitoring_config_file`."""
    return _parse(path, monitoring_pb2.MonitoringConfig())


def prometheus_path(config: monitoring_pb2.MonitoringConfig) -> str | None:
    """The metrics path if Prometheus export is enabled, else None."""
    prometheus = config.prometheus_config
    if not prometheus.enable:
        return None
    return prometheus.path or DEFAULT_PROMETHEUS_PATH
