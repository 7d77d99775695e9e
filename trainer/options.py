"""Training options (no heavy imports, so the CLI can show the defaults)."""

from dataclasses import dataclass
from pathlib import Path

DEFAULT_EPOCHS = 60
DEFAULT_CV_FOLDS = 5


@dataclass(frozen=True)
class TrainOptions:
    """What to train on and for how long. `data=None` means the discovery order."""

    data: Path | str | None = None  # a path, or a registry data URI (s3://...)
    epochs: int = DEFAULT_EPOCHS  # the learning-rate schedule spans them all
    seed: int = 0
    sample: int | None = None  # stratified sample of N rows before splitting; None: all rows
    quiet: bool = False
    cv_folds: int | None = None  # also cross-validate the network on this many folds
