"""`models.config`: the model server's text-format `ModelServerConfig`.

Read and written with the official protos, changing only what the release tools
manage (one model's version policy and version labels) and keeping everything
else. The pure functions at the bottom decide which versions must be loaded.
"""

from collections.abc import Iterable, Mapping
from pathlib import Path

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from covertype.durable import atomic_write_bytes

ModelServerConfig = model_server_config_pb2.ModelServerConfig
ModelConfig = model_server_config_pb2.ModelConfig


class ConfigError(Exception):
    """The config file cannot be read, parsed, or does not name the model."""


def default_config(models_dir: Path, model_name: str) -> ModelServerConfig:
    """What `--model_name X --model_base_path <models-dir>/X` means, as a config file."""
    config = ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = model_name
    model.base_path = str((models_dir / model_name).resolve())
    model.model_platform = "tensorflow"
    return config


def load_config(path: Path, models_dir: Path, model_name: str) -> ModelServerConfig:
    """Parse `path`; when it does not exist, the default config for `models_dir`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return default_config(models_dir, model_name)
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from error
    config = ModelServerConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as error:
        raise ConfigError(f"cannot parse {path}: {error}") from error
    model_config(config, model_name, path)
    return config


def save_config(path: Path, config: ModelServerConfig) -> None:
    """Write `config` atomically (temp file in the same folder, fsync, rename)."""
    atomic_write_bytes(path, text_format.MessageToString(config).encode("utf-8"))


def model_config(
    config: ModelServerConfig, model_name: str, source: Path | None = None
) -> ModelConfig:
    """The entry of `model_name` in `config` (a reference: changes apply to `config`)."""
    for model in config.model_config_list.config:
        if model.name == model_name:
            return model
    where = f" in {source}" if source else ""
    raise ConfigError(f"no model named {model_name!r}{where}")


def labels_of(config: ModelServerConfig, model_name: str) -> dict[str, int]:
    """The model's `label -> version` map."""
    return dict(model_config(config, model_name).version_labels)


def with_serving(
    config: ModelServerConfig,
    model_name: str,
    *,
    versions: Iterable[int] | None,
    labels: Mapping[str, int],
) -> ModelServerConfig:
    """A copy of `config` whose model loads `versions` (None: keep its policy) with `labels`."""
    result = ModelServerConfig()
    result.CopyFrom(config)
    model = model_config(result, model_name)
    if versions is not None:
        model.model_version_policy.Clear()
        model.model_version_policy.specific.versions.extend(sorted(set(versions)))
    model.version_labels.clear()
    model.version_labels.update(labels)
    return result


def loads_every_version(config: ModelServerConfig, model_name: str) -> bool:
    """Whether the model's policy is `all` (then labels never need a policy change)."""
    return model_config(config, model_name).model_version_policy.HasField("all")


def serving_set(labels: Mapping[str, int], newest: int | None) -> set[int]:
    """The versions a `specific` policy must list: every labelled one and the newest."""
    versions = set(labels.values())
    if newest is not None:
        versions.add(newest)
    return versions


def needs_specific_policy(labels: Mapping[str, int], all_policy: bool) -> bool:
    """Labels need their versions loaded; only the `all` policy guarantees that already."""
    return bool(labels) and not all_policy
