"""Rollback: take the newest version(s) out of service, so the server falls back.

Gap-free: the fallback version is loaded (next to the current one) before any folder
moves, so unversioned requests are answered throughout, by the old newest version
until the server unloads it and by the fallback after. Labels that pointed at a
removed version are moved to the fallback, so `?label=` requests keep working.
"""

from dataclasses import dataclass
from pathlib import Path

from release import archive, server_config, transition
from release.lock import release_lock
from release.record import Event, ReleaseEvent, ReleaseRecord
from release.serving import ModelServer, States


@dataclass(frozen=True)
class RollbackResult:
    """What moved where, and the server once settled."""

    removed: list[int]
    fallback: int | None
    archived: dict[int, Path]
    labels_before: dict[str, int]
    labels_after: dict[str, int]
    states: States


def rollback(
    *,
    models_dir: Path,
    model_name: str,
    config_path: Path,
    server: ModelServer,
    record: ReleaseRecord,
    run: str,
    removed: list[int],
    fallback: int | None,
    reason: str,
    timeout: float,
) -> RollbackResult:
    """Archive `removed` and wait until `fallback` is live (None: nothing left to serve)."""
    with release_lock(models_dir, model_name):
        config = server_config.load_config(config_path, models_dir, model_name)
        before = server_config.labels_of(config, model_name)
        after = {
            label: version
            for label, version in ((k, fallback if v in removed else v) for k, v in before.items())
            if version is not None
        }
        record.append(
            ReleaseEvent(
                Event.ARCHIVING,
                reason=reason,
                run=run,
                version=max(removed),
                details={"removed": removed, "fallback": fallback, "labels_after": after},
            )
        )
        if fallback is not None:
            transition.preload(server, config_path, config, {fallback}, timeout)
        archived: dict[int, Path] = {}
        for version in sorted(removed, reverse=True):
            archived[version] = archive.archive_version(models_dir, model_name, version, run)
            record.append(
                ReleaseEvent(
                    Event.ARCHIVED,
                    reason=reason,
                    run=run,
                    version=version,
                    details={"archive": str(archived[version]), "fallback": fallback},
                )
            )
        final, required = transition.final_config(config, model_name, after, fallback)
        transition.apply_config(server, config_path, final)
        server.wait_unloaded(removed, timeout)
        states = server.wait_available(required, timeout) if required else server.states()
    return RollbackResult(removed, fallback, archived, before, after, states)
