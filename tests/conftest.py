"""Fixtures shared by every test package.

- `train_csv`: the Kaggle training file at `../shared/data/train.csv` beside the repository.
- `tiny_candidate`: one small real model (2,000 sampled rows, 1 epoch, seed 0), built once
  per session by `trainer.api.build_candidate`; a complete version folder outside any
  models directory (`.path`, `.metrics`).
- `publish_tiny(models_dir, count=1, model_name="covertype") -> list[int]`: publishes that
  candidate as `count` new versions under `models_dir/model_name/` and returns their numbers.

TensorFlow is imported inside the fixtures only, so tests that do not use them (the
gateway's) run without it.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from covertype.defaults import MODEL_NAME

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_TRAIN_CSV = REPO_ROOT.parent / "shared" / "data" / "train.csv"

PublishTiny = Callable[..., list[int]]


@pytest.fixture(scope="session")
def train_csv() -> Path:
    """The Kaggle train.csv that tests and CI train on."""
    if not SHARED_TRAIN_CSV.is_file():
        pytest.fail(
            f"test data missing: expected the Kaggle train.csv at {SHARED_TRAIN_CSV} "
            "(the repository's sibling folder shared/data/)",
            pytrace=False,
        )
    return SHARED_TRAIN_CSV


@pytest.fixture(scope="session")
def tiny_candidate(train_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real, quickly trained candidate (trainer.api.Candidate) built once per session."""
    from trainer.api import TrainOptions, build_candidate

    options = TrainOptions(data=train_csv, epochs=1, sample=2000, seed=0, quiet=True)
    return build_candidate(options, tmp_path_factory.mktemp("tiny-candidate"))


@pytest.fixture(scope="session")
def publish_tiny(tiny_candidate: Any) -> PublishTiny:
    """A function publishing the tiny candidate as new versions; returns the version numbers."""
    from trainer.publish import publish_version

    def publish(models_dir: Path, count: int = 1, model_name: str = MODEL_NAME) -> list[int]:
        return [publish_version(tiny_candidate.path, models_dir, model_name) for _ in range(count)]

    return publish
