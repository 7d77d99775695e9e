"""The file system source: polls base paths and emits the versions to serve.

Each model's base path holds one folder per version, named by its number (only
all-digit names count). A version folder is used only once it is complete:
`saved_model.pb` present and `variables/` holding its index and every data shard.
The model's version policy (latest N, all, specific) picks which of the complete
versions are aspired; the source hands that full list to the manager on every
poll, so a deleted folder simply stops being aspired.
"""

import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tensorflow_serving.config import file_system_storage_path_source_pb2

from covertype.versions import parse_version
from tfserving.logs import log_event

logger = logging.getLogger(__name__)

_SourceConfig = file_system_storage_path_source_pb2.FileSystemStoragePathSourceConfig
ServableVersionPolicy = _SourceConfig.ServableVersionPolicy
AspiredVersionsCallback = Callable[[str, list[tuple[int, Path]]], None]

_SHARD = re.compile(r"^variables\.data-(\d+)-of-(\d+)$")


@dataclass(frozen=True)
class ServableToMonitor:
    """One model: its name, base path and version policy."""

    name: str
    base_path: str
    version_policy: ServableVersionPolicy


def incomplete_reason(version_dir: Path) -> str | None:
    """Why a version folder cannot be loaded yet, or None when it is complete."""
    if (
        not (version_dir / "saved_model.pb").is_file()
        and not (version_dir / "saved_model.pbtxt").is_file()
    ):
        return "no saved_model.pb"
    variables = version_dir / "variables"
    if not variables.is_dir():
        return "no variables/ folder"
    if not (variables / "variables.index").is_file():
        return "no variables/variables.index"
    shards: set[int] = set()
    expected = 0
    for child in variables.iterdir():
        match = _SHARD.match(child.name)
        if match:
            shards.add(int(match.group(1)))
            expected = int(match.group(2))
    if expected == 0 or len(shards) < expected:
        return f"variables/ holds {len(shards)} of {max(expected, 1)} data shards"
    return None


def versions_to_serve(policy: ServableVersionPolicy, versions: Iterable[int]) -> list[int]:
    """The versions the policy aspires to, given the complete versions on disk (ascending)."""
    available = sorted(set(versions))
    choice = policy.WhichOneof("policy_choice")
    if choice == "all":
        return available
    if choice == "specific":
        wanted = set(policy.specific.versions)
        return [v for v in available if v in wanted]
    num_versions = policy.latest.num_versions if choice == "latest" else 1
    return available[-max(num_versions, 1) :] if available else []


class FileSystemStoragePathSource:
    """Polls every monitored base path and calls back with each model's aspired versions."""

    def __init__(self, poll_wait_seconds: float, callback: AspiredVersionsCallback) -> None:
        self._poll_wait_seconds = poll_wait_seconds
        self._callback = callback
        self._servables: tuple[ServableToMonitor, ...] = ()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._reported: set[tuple[str, ...]] = set()

    def update_config(self, servables: Sequence[ServableToMonitor]) -> None:
        """Monitor exactly `servables` from now on, then poll once.

        Models that are no longer monitored get an empty aspired list, so the
        manager unloads them.
        """
        with self._lock:
            dropped = {s.name for s in self._servables} - {s.name for s in servables}
            self._servables = tuple(servables)
            for name in sorted(dropped):
                self._callback(name, [])
        self.poll()

    def poll(self) -> None:
        """Scan every base path once and emit the aspired versions."""
        with self._lock:
            for servable in self._servables:
                versions = self._scan(servable)
                if versions is not None:
                    self._callback(servable.name, versions)

    def start(self) -> None:
        """Poll every `poll_wait_seconds` in a thread (0 polls only once, as TF Serving)."""
        if self._poll_wait_seconds <= 0:
            return
        self._thread = threading.Thread(target=self._run, name="storage-path-source", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stopped.wait(self._poll_wait_seconds):
            try:
                self.poll()
            except Exception:
                logger.exception("file system poll failed")

    def _scan(self, servable: ServableToMonitor) -> list[tuple[int, Path]] | None:
        base = Path(servable.base_path)
        try:
            children = list(base.iterdir())
        except OSError as error:
            self._report_once(
                ("base_path_unreadable", servable.name, servable.base_path, str(error.strerror)),
                "base_path_unreadable",
                model=servable.name,
                base_path=servable.base_path,
                error=error.strerror or str(error),
            )
            return None
        complete: dict[int, Path] = {}
        for child in children:
            version = parse_version(child.name)
            if version is None or not child.is_dir():
                continue
            reason = incomplete_reason(child)
            if reason is None:
                complete[version] = child
            else:
                self._report_once(
                    ("version_incomplete", servable.name, str(version), reason),
                    "version_incomplete",
                    model=servable.name,
                    version=version,
                    reason=reason,
                )
        if not complete:
            self._report_once(
                ("no_versions", servable.name, servable.base_path),
                "no_versions_found",
                model=servable.name,
                base_path=servable.base_path,
                hint="version folders are named by their number, e.g. 1/",
            )
        chosen = versions_to_serve(servable.version_policy, complete)
        return [(version, complete[version]) for version in chosen]

    def _report_once(self, key: tuple[str, ...], event: str, **fields: object) -> None:
        if key not in self._reported:
            self._reported.add(key)
            log_event(logger, event, logging.WARNING, **fields)
