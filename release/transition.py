"""Changing what the model server serves without a moment where nothing answers.

The pattern: first ask the server to load the new versions *next to* everything it
serves now (a `specific` policy listing both), wait until they are AVAILABLE, and
only then apply the final config, which lets the server unload what is no longer
wanted. Every config sent is also written to the config file first, so that a
server polling that file agrees with what it was told.
"""

from collections.abc import Iterable
from pathlib import Path

from release import server_config
from release.server_config import ModelServerConfig
from release.serving import AVAILABLE, ModelServer, States


def apply_config(server: ModelServer, path: Path, config: ModelServerConfig) -> None:
    """Write `config` to `path`, then make the server reload it."""
    server_config.save_config(path, config)
    server.reload_config(config)


def preload(
    server: ModelServer,
    path: Path,
    config: ModelServerConfig,
    versions: Iterable[int],
    timeout: float,
    *,
    baseline: States | None = None,
) -> bool:
    """Make the server load `versions` alongside what it serves; False if already loaded.

    The labels of `config` are kept as they are: a label may only point at a
    version that is loaded, and the new versions are not yet.
    """
    wanted = set(versions)
    loaded = {v for v, status in server.states().items() if status.state == AVAILABLE}
    if wanted <= loaded:
        return False
    labels = server_config.labels_of(config, server.model_name)
    pinned = server_config.with_serving(
        config, server.model_name, versions=loaded | wanted, labels=labels
    )
    apply_config(server, path, pinned)
    server.wait_available(wanted, timeout, baseline=baseline)
    return True


def final_config(
    config: ModelServerConfig,
    model_name: str,
    labels: dict[str, int],
    newest: int | None,
) -> tuple[ModelServerConfig, set[int]]:
    """The config to settle on and the versions it must have AVAILABLE.

    A `specific` policy (labels, or one there before) lists every labelled version
    and the newest; `latest`/`all` policies without labels stay as they are.
    """
    all_policy = server_config.loads_every_version(config, model_name)
    was_specific = server_config.model_config(config, model_name).model_version_policy.HasField(
        "specific"
    )
    if server_config.needs_specific_policy(labels, all_policy) or was_specific:
        versions = server_config.serving_set(labels, newest)
        final = server_config.with_serving(config, model_name, versions=versions, labels=labels)
        return final, versions
    final = server_config.with_serving(config, model_name, versions=None, labels=labels)
    required = set(labels.values()) | ({newest} if newest is not None else set())
    return final, required
