"""Small data files for trainer tests, cut from the real train.csv."""

import gzip
from pathlib import Path

import pandas as pd

from covertype.schema import FEATURE_COLUMNS, LABEL_COLUMN


def read_rows(train_csv: Path, count: int) -> pd.DataFrame:
    """The first `count` rows of train.csv, as object columns so any cell can be replaced."""
    return pd.read_csv(train_csv, nrows=count).astype(object)


def write_kaggle(frame: pd.DataFrame, path: Path) -> Path:
    """Write `frame` as a Kaggle CSV (header row); gzipped when `path` ends in .gz."""
    frame.to_csv(path, index=False, compression="gzip" if path.suffix == ".gz" else None)
    return path


def write_uci(frame: pd.DataFrame, path: Path) -> Path:
    """Write `frame`'s features and label in the UCI layout (no header, no Id)."""
    body = frame[[*FEATURE_COLUMNS, LABEL_COLUMN]].to_csv(index=False, header=False)
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as handle:
            handle.write(body)
    else:
        path.write_text(body)
    return path
