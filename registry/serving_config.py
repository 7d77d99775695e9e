"""The model server's `models.config`, as the sync writes it (no TensorFlow needed).

Text-format `ModelServerConfig` through the slim, wire- and text-compatible proto: one
model, its base path, a `specific` version policy and its labels. The file is written
atomically and only when its content changes; a file that names another base path for
the model is refused, since the server would then read versions from somewhere else.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import text_format

from covertype.durable import atomic_write_bytes
from protos.slim import model_server_config_pb2

TENSORFLOW_PLATFORM = "tensorflow"


class BasePathMismatch(Exception):
    """The config file names a base path for the model other than the one the sync fills."""


def render_config(
    model_name: str, base_path: Path, versions: Iterable[int], labels: Mapping[str, int]
) -> str:
    """The text of a config that serves `versions` of one model with `labels`."""
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = model_name
    model.base_path = str(base_path)
    model.model_platform = TENSORFLOW_PLATFORM
    model.model_version_policy.specific.versions.extend(sorted(set(versions)))
    model.version_labels.update(labels)
    return text_format.MessageToString(config)


@dataclass(frozen=True)
class ServedConfig:
    """What a config file asks of one model: the versions its policy lists, and labels."""

    versions: frozenset[int]
    labels: Mapping[str, int]


def read_served(config_file: Path, model_name: str, base_path: Path) -> ServedConfig:
    """What `config_file` serves of the model (nothing if the file is absent).

    Raises `BasePathMismatch` if the file names another base path for the model.
    """
    try:
        text = config_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ServedConfig(frozenset(), {})
    config = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(text, config, allow_unknown_field=True)
    except text_format.ParseError as error:
        raise BasePathMismatch(f"{config_file} does not parse: {error}") from error
    for model in config.model_config_list.config:
        if model.name != model_name:
            continue
        if Path(model.base_path) != base_path:
            raise BasePathMismatch(
                f"{config_file} serves {model_name} from {model.base_path}, but this sync "
                f"fills {base_path}: give --models-dir the folder the model server reads, or "
                "point --config-file at that server's config"
            )
        policy = model.model_version_policy
        return ServedConfig(frozenset(policy.specific.versions), dict(model.version_labels))
    return ServedConfig(frozenset(), {})


def write_if_changed(config_file: Path, text: str) -> bool:
    """Write `text` atomically unless the file already holds it; return whether it wrote."""
    try:
        if config_file.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        pass
    atomic_write_bytes(config_file, text.encode("utf-8"))
    return True
