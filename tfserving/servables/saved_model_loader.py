"""The loader for one SavedModel version: load, wrap the session, warm up; and unload."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tfserving.core.servable_id import ServableId
from tfserving.monitoring import Metrics
from tfserving.servables.saved_model_bundle import (
    DirectSession,
    SavedModelBundle,
    Session,
    load_saved_model_bundle,
)
from tfserving.servables.saved_model_warmup import run_saved_model_warmup

SessionWrapper = Callable[[DirectSession, ServableId], Session]


@dataclass(frozen=True)
class LoaderOptions:
    """What every loader needs: warmup settings, metrics, and the batching wrapper if any."""

    enable_model_warmup: bool
    num_request_iterations_for_warmup: int
    metrics: Metrics
    wrap_session: SessionWrapper | None = None


class SavedModelLoader:
    """Loads the SavedModel in one version folder (the manager's `Loader`)."""

    def __init__(self, servable_id: ServableId, path: Path, options: LoaderOptions) -> None:
        self.servable_id = servable_id
        self.path = path
        self._options = options

    def load(self) -> SavedModelBundle:
        """Load the bundle and replay its warmup requests; any failure fails the load."""
        bundle = load_saved_model_bundle(self.servable_id, self.path, self._options.wrap_session)
        if self._options.enable_model_warmup:
            try:
                run_saved_model_warmup(
                    bundle, self._options.num_request_iterations_for_warmup, self._options.metrics
                )
            except BaseException:
                bundle.session.close()
                raise
        return bundle

    def unload(self, bundle: SavedModelBundle) -> None:
        """Release the bundle's session; requests still holding the bundle finish unbatched."""
        bundle.session.close()
