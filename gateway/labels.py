"""Version labels, read from the models.config file the model server is started with.

TF Serving's public API has no call that lists version labels: `GetModelStatus`
reports versions and states only, `GetModelMetadata` signatures only. Labels live in
the server's `ModelServerConfig` (`version_labels` of each model), so the gateway
reads the same text-format file when it is given one (`--model-config-file`), on
each request, so that it follows config changes without a restart.
"""

from pathlib import Path

from google.protobuf import text_format

from protos.slim import model_server_config_pb2


class LabelsUnavailable(Exception):
    """The config file cannot be read or parsed."""


def read_version_labels(config_file: Path, model_name: str) -> dict[str, int]:
    """The `label -> version` map of `model_name` in `config_file` (empty if it has none)."""
    try:
        text = config_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LabelsUnavailable(f"cannot read {config_file}: {error}") from error
    config = model_server_config_pb2.ModelServerConfig()
    try:
        # The slim message declares only the fields the gateway reads.
        text_format.Parse(text, config, allow_unknown_field=True)
    except text_format.ParseError as error:
        raise LabelsUnavailable(f"cannot parse {config_file}: {error}") from error
    for model in config.model_config_list.config:
        if model.name == model_name:
            return dict(sorted(model.version_labels.items(), key=lambda item: item[0]))
    return {}
