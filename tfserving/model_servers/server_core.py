"""ServerCore: the model config, its source, the manager, version labels and handle lookup.

`reload_config` replaces the whole ModelServerConfig the way TF Serving does:
models left out are no longer monitored (so their versions are unloaded), version
labels are re-validated, and the call returns once every newly added model has a
version AVAILABLE (or every aspired version of it has failed).
"""

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

import grpc
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.config import model_server_config_pb2

from tfserving.config_files import TENSORFLOW_PLATFORM
from tfserving.core.aspired_versions_manager import (
    AspiredVersion,
    AspiredVersionsManager,
    ManagerOptions,
)
from tfserving.core.servable_id import ServableId, ServableRequest
from tfserving.core.servable_state import ManagerState, ServableState, ServableStateMonitor
from tfserving.errors import (
    ServingError,
    failed_precondition,
    invalid_argument,
    unavailable,
)
from tfserving.servables.saved_model_bundle import SavedModelBundle
from tfserving.servables.saved_model_loader import LoaderOptions, SavedModelLoader
from tfserving.sources.file_system_storage_path_source import (
    FileSystemStoragePathSource,
    ServableToMonitor,
)

ModelServerConfig = model_server_config_pb2.ModelServerConfig
_TENSORFLOW_MODEL_TYPE = 1  # the deprecated ModelType.TENSORFLOW


@dataclass(frozen=True)
class ServerCoreOptions:
    """Polling, retry and label settings, and what loaders need."""

    file_system_poll_wait_seconds: float
    manager: ManagerOptions
    allow_version_labels_for_unavailable_models: bool
    loader: LoaderOptions


class ServerCore:
    """Owns the config, the file system source, the manager and the state monitor."""

    def __init__(self, options: ServerCoreOptions) -> None:
        self._options = options
        self.monitor = ServableStateMonitor()
        self.manager = AspiredVersionsManager(self.monitor, options.manager)
        self._source = FileSystemStoragePathSource(
            options.file_system_poll_wait_seconds, self._set_aspired_versions
        )
        self._config = ModelServerConfig()
        self._configured: frozenset[str] = frozenset()
        self._labels: Mapping[str, Mapping[str, int]] = {}
        self._config_lock = threading.Lock()
        self._stopped = threading.Event()

    def start(self) -> None:
        """Start the manager (the source starts polling with the first config)."""
        self.manager.start()

    def stop(self) -> None:
        """Stop polling and managing."""
        self._stopped.set()
        self._source.stop()
        self.manager.stop()

    # -- config ---------------------------------------------------------------------------

    def reload_config(self, config: model_server_config_pb2.ModelServerConfig) -> None:
        """Serve exactly the models in `config`; raise ServingError if it is refused."""
        with self._config_lock:
            is_first = self._config.WhichOneof("config") is None
            kind = config.WhichOneof("config")
            if kind is None:
                return
            if kind != "model_config_list":
                raise failed_precondition(
                    "Cannot transition to requested config. It is only legal to transition "
                    "from one ModelConfigList to another."
                )
            models = list(config.model_config_list.config)
            _validate(models)
            labels = self._label_map(models)
            new_models = {m.name for m in models} - self._configured
            self._config = ModelServerConfig()
            self._config.CopyFrom(config)
            self._configured = frozenset(m.name for m in models)
            self._labels = labels
            self._source.update_config(
                [ServableToMonitor(m.name, m.base_path, m.model_version_policy) for m in models]
            )
            if is_first:
                self._source.start()
            self._await_models(new_models)

    def _label_map(
        self, models: list[model_server_config_pb2.ModelConfig]
    ) -> dict[str, dict[str, int]]:
        labels: dict[str, dict[str, int]] = {}
        for model in models:
            states = self.monitor.get_version_states(model.name)
            for label, version in model.version_labels.items():
                allow_unavailable = False
                if self._options.allow_version_labels_for_unavailable_models:
                    existing = self._labels.get(model.name, {}).get(label)
                    allow_unavailable = existing is None or existing == version
                state = states.get(version)
                if not allow_unavailable and (
                    state is None or state.manager_state is not ManagerState.AVAILABLE
                ):
                    raise failed_precondition(
                        f"Request to assign label to version {version} of model {model.name}, "
                        "which is not currently available for inference"
                    )
                labels.setdefault(model.name, {})[label] = version
        return labels

    def _await_models(self, names: set[str]) -> None:
        """Block until each model has a version AVAILABLE or all its aspired versions ended."""

        def settled(name: str) -> bool:
            aspired = self.manager.aspired_versions(name)
            states = self.monitor.get_version_states(name)
            if any(s.manager_state is ManagerState.AVAILABLE for s in states.values()):
                return True
            return all(
                states.get(v) is not None and states[v].manager_state is ManagerState.END
                for v in aspired
            )

        while not all(settled(name) for name in names):
            if self._stopped.wait(0.05):
                break
        failed = []
        for name in sorted(names):
            states = self.monitor.get_version_states(name)
            if any(s.manager_state is ManagerState.AVAILABLE for s in states.values()):
                continue
            failed.extend(
                f"{{{state.id} due to error: {state.health}}}"
                for state in states.values()
                if state.health is not None
            )
        if failed:
            raise ServingError(
                grpc.StatusCode.UNKNOWN,
                f"{len(failed)} model(s) did not become available: {{{', '.join(failed)}}}",
            )

    # -- the source -> manager connection (TF's source adapter) ----------------------------

    def _set_aspired_versions(self, name: str, versions: list[tuple[int, object]]) -> None:
        self.manager.set_aspired_versions(
            name,
            [
                AspiredVersion(
                    ServableId(name, version),
                    SavedModelLoader(ServableId(name, version), path, self._options.loader),
                )
                for version, path in versions
            ],
        )

    # -- requests -------------------------------------------------------------------------

    def version_for_label(self, name: str, label: str) -> int:
        """The version a label names; INVALID_ARGUMENT for an unknown label."""
        version = self._labels.get(name, {}).get(label)
        if version is None:
            raise invalid_argument(f"Unrecognized servable version label: {label}")
        return version

    def servable_request(self, model_spec: model_pb2.ModelSpec) -> ServableRequest:
        """What a ModelSpec asks for: a specific version (by number or label) or the latest."""
        if not model_spec.name:
            raise invalid_argument("ModelSpec has no name specified.")
        choice = model_spec.WhichOneof("version_choice")
        if choice == "version":
            return ServableRequest.specific(model_spec.name, model_spec.version.value)
        if choice == "version_label":
            version = self.version_for_label(model_spec.name, model_spec.version_label)
            return ServableRequest.specific(model_spec.name, version)
        return ServableRequest.latest(model_spec.name)

    def servable_handle(self, model_spec: model_pb2.ModelSpec) -> SavedModelBundle:
        """The loaded bundle a request is for.

        NOT_FOUND for an unknown model or a version that is not loaded; UNAVAILABLE
        when a configured model has no version loaded yet (TF Serving says NOT_FOUND
        there too; UNAVAILABLE tells clients that retrying makes sense).
        """
        request = self.servable_request(model_spec)
        try:
            return self.manager.get_servable(request)
        except ServingError as error:
            if request.version is None and request.name in self._configured:
                raise unavailable(
                    f"{error.message}: no version of model {request.name} is available yet"
                ) from error
            raise

    def version_states(self, name: str) -> dict[int, ServableState]:
        """Every version of `name` the server has managed, with its latest state."""
        return self.monitor.get_version_states(name)


def _validate(models: list[model_server_config_pb2.ModelConfig]) -> None:
    """TF Serving's checks of a ModelConfigList."""
    seen: set[str] = set()
    for model in models:
        if model.name in seen:
            raise invalid_argument(
                f"Illegal to list model {model.name} multiple times in config list"
            )
        seen.add(model.name)
        if "://" not in model.base_path and not PurePosixPath(model.base_path).is_absolute():
            raise invalid_argument(
                f"Expected model {model.name} to have an absolute path or URI; "
                f"got base_path()={model.base_path}"
            )
        if model.model_type and model.model_platform:
            raise invalid_argument(
                "Illegal setting both ModelServerConfig::model_type (deprecated) and "
                "ModelServerConfig::model_platform."
            )
        platform = TENSORFLOW_PLATFORM if model.model_type == _TENSORFLOW_MODEL_TYPE else None
        platform = model.model_platform or platform
        if not platform:
            raise invalid_argument(
                "Illegal setting neither ModelServerConfig::model_type (deprecated) nor "
                "ModelServerConfig::model_platform."
            )
        if platform != TENSORFLOW_PLATFORM:
            raise invalid_argument(f"Model {model.name} requests unsupported platform {platform}")
