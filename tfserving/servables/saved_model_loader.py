"""The loader for one SavedModel version: load, wrap the session, warm up; and unload."""

from dataclasses import dataclass, field
from pathlib import Path

from tfserving.core.servable_id import ServableId
from tfserving.monitoring import Metrics
from tfserving.servables.classification_regression import DEFAULT_INFERENCE, InferenceOptions
from tfserving.servables.saved_model_bundle import (
    SavedModelBundle,
    SessionWrapper,
    load_saved_model_bundle,
)
from tfserving.servables.saved_model_warmup import run_saved_model_warmup
from tfserving.servables.session_bundle_config import SessionBundleConfig


@dataclass(frozen=True)
class LoaderOptions:
    """What every loader needs: session config, warmup settings, metrics, batching wrapper."""

    enable_model_warmup: bool
    num_request_iterations_for_warmup: int
    metrics: Metrics
    wrap_session: SessionWrapper | None = None
    session_bundle_config: SessionBundleConfig = field(default_factory=SessionBundleConfig)
    inference: InferenceOptions = DEFAULT_INFERENCE


class SavedModelLoader:
    """Loads the SavedModel in one version folder (the manager's `Loader`)."""

    def __init__(self, servable_id: ServableId, path: Path, options: LoaderOptions) -> None:
        self.servable_id = servable_id
        self.path = path
        self._options = options

    def load(self) -> SavedModelBundle:
        """Load the bundle and replay its warmup requests; any failure fails the load."""
        options = self._options
        bundle = load_saved_model_bundle(
            self.servable_id, self.path, options.session_bundle_config, options.wrap_session
        )
        if options.enable_model_warmup:
            try:
                run_saved_model_warmup(
                    bundle,
                    options.num_request_iterations_for_warmup,
                    options.metrics,
                    options.inference,
                )
            except BaseException:
                bundle.session.close()
                raise
        return bundle

    def unload(self, bundle: SavedModelBundle) -> None:
        """Release the bundle's session; requests still holding the bundle finish unbatched."""
        bundle.session.close()
