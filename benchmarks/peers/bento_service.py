"""The covertype model as a BentoML service: `POST /v1/predict`, one worker per CPU.

    COVERTYPE_SAVED_MODEL=models/covertype/1 bentoml serve bento_service:Covertype \
        --host 127.0.0.1 --port 8300

The whole JSON body is one observation (a positional-only parameter is BentoML's
root input); BentoML parses the JSON, the gateway's code validates it.
"""

import os
from pathlib import Path
from typing import Any

import bentoml
from bentoml.exceptions import InvalidArgument
from predictor import SavedModelPredictor

from gateway.observations import InvalidInstances, validate_instances

SAVED_MODEL_VARIABLE = "COVERTYPE_SAVED_MODEL"


@bentoml.service(workers="cpu_count")
class Covertype:
    """Each worker loads the SavedModel named by $COVERTYPE_SAVED_MODEL."""

    def __init__(self) -> None:
        self._predictor = SavedModelPredictor(Path(os.environ[SAVED_MODEL_VARIABLE]))

    @bentoml.api(route="/v1/predict")
    def predict(self, observation: dict[str, Any], /) -> dict[str, Any]:
        """Score one observation; 400 with the problems if it is invalid."""
        try:
            rows = validate_instances([observation])
        except InvalidInstances as error:
            raise InvalidArgument(str(error)) from error
        return self._predictor.answer(rows)
