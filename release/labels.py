"""`covertype label NAME N`: point a version label (e.g. `stable`, `canary`) at version N."""

import re
from dataclasses import dataclass
from pathlib import Path

from covertype import defaults
from release import archive, server_config, transition
from release.lock import release_lock
from release.record import Event, ReleaseEvent, ReleaseRecord, new_run_id
from release.serving import ModelServer, States

LABEL_PATTERN = re.compile(defaults.LABEL_PATTERN)


class LabelError(Exception):
    """The label or version cannot be used."""


@dataclass(frozen=True)
class LabelResult:
    """Labels before and after, and the server's states once settled."""

    label: str
    version: int
    before: dict[str, int]
    after: dict[str, int]
    states: States


def set_label(
    *,
    models_dir: Path,
    model_name: str,
    config_path: Path,
    server: ModelServer,
    record: ReleaseRecord,
    label: str,
    version: int,
    timeout: float,
) -> LabelResult:
    """Load version `version` if needed, then point `label` at it (config file and server)."""
    if not LABEL_PATTERN.fullmatch(label):
        raise LabelError(
            f"label {label!r}: must start with a letter and hold only letters, digits, _ and -"
        )
    with release_lock(models_dir, model_name):
        on_disk = archive.versions_on_disk(models_dir, model_name)
        if version not in on_disk:
            raise LabelError(
                f"version {version} is not in {archive.base_path(models_dir, model_name)} "
                f"(versions there: {on_disk or 'none'})"
            )
        config = server_config.load_config(config_path, models_dir, model_name)
        before = server_config.labels_of(config, model_name)
        after = {**before, label: version}
        run = new_run_id()
        record.append(
            ReleaseEvent(
                Event.LABELLING,
                reason=f"label {label} -> {version}",
                run=run,
                version=version,
                details={"label": label, "labels_before": before, "labels_after": after},
            )
        )
        transition.preload(server, config_path, config, {version}, timeout)
        final, required = transition.final_config(config, model_name, after, max(on_disk))
        transition.apply_config(server, config_path, final)
        states = server.wait_available(required, timeout)
        record.append(
            ReleaseEvent(
                Event.LABELLED,
                reason=f"label {label} -> {version}",
                run=run,
                version=version,
                details={"label": label, "labels": after},
            )
        )
    return LabelResult(label, version, before, after, states)
