"""Reading TF Serving's text-format config files with their protos, never by hand.

`models.config` is a `tensorflow.serving.ModelServerConfig` (official proto), a
`--tensorflow_session_config_file` a `tensorflow.ConfigProto`; `batching.config`,
`monitoring.config` and `--ssl_config_file` use the wire- and text-compatible
copies in `protos/tfserving_config/`. A file that does not parse fails the way
TF Serving's ParseProtoTextFile fails: libprotobuf's line ("Error parsing
text-format <message>: line:column: ...") and "Invalid protobuf file: '<path>'".
"""

from pathlib import Path

from google.protobuf import message, text_format
from tensorflow.core.protobuf import config_pb2
from tensorflow_serving.config import model_server_config_pb2

from protos.tfserving_config import batching_pb2, monitoring_pb2, ssl_config_pb2

DEFAULT_PROMETHEUS_PATH = "/monitoring/prometheus/metrics"
TENSORFLOW_PLATFORM = "tensorflow"


class ConfigFileError(Exception):
    """A config file is missing or is not valid text format for its proto.

    `parse_error` is the parser's own line (libprotobuf's wording), empty when the
    file could not be read at all.
    """

    def __init__(self, message: str, parse_error: str = "") -> None:
        super().__init__(message)
        self.parse_error = parse_error


def _parse(path: str | Path, proto: message.Message, message_name: str = "") -> message.Message:
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise ConfigFileError(f"{path}; {error.strerror or error}") from error
    try:
        return text_format.Parse(text, proto)
    except text_format.ParseError as error:
        detail = str(error).split(" : ", 1)[-1]
        name = message_name or proto.DESCRIPTOR.full_name
        parse_error = (
            f"Error parsing text-format {name}: {error.GetLine()}:{error.GetColumn()}: {detail}"
        )
        raise ConfigFileError(f"Invalid protobuf file: '{path}'", parse_error) from error


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
    """Parse a `--batching_parameters_file` (or a version's batching_params.pbtxt)."""
    return _parse(path, batching_pb2.BatchingParameters(), "tensorflow.serving.BatchingParameters")


def read_monitoring_config(path: str | Path) -> monitoring_pb2.MonitoringConfig:
    """Parse a `--monitoring_config_file`."""
    return _parse(path, monitoring_pb2.MonitoringConfig(), "tensorflow.serving.MonitoringConfig")


def read_ssl_config(path: str | Path) -> ssl_config_pb2.SSLConfig:
    """Parse a `--ssl_config_file`."""
    return _parse(path, ssl_config_pb2.SSLConfig(), "tensorflow.serving.SSLConfig")


def read_session_config(path: str | Path) -> config_pb2.ConfigProto:
    """Parse a `--tensorflow_session_config_file`."""
    return _parse(path, config_pb2.ConfigProto())


def prometheus_path(config: monitoring_pb2.MonitoringConfig) -> str | None:
    """The metrics path if Prometheus export is enabled, else None."""
    prometheus = config.prometheus_config
    if not prometheus.enable:
        return None
    return prometheus.path or DEFAULT_PROMETHEUS_PATH
