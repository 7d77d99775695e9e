"""Finding the training data and reading it, in either of its two layouts.

Discovery order: an explicit path (`--data`), the `COVERTYPE_DATA` environment variable,
`data/train.csv`, then the UCI set through scikit-learn's cached `fetch_covtype`. The first
two may also name a file pushed to a registry (`s3://.../data/sha256/<hex>`, from
`covertype data push`): it is downloaded once into a local cache and checked.

Layouts: the Kaggle CSV (header with `Id`, the 54 feature names and `Cover_Type`) and the
UCI `covtype.data` (no header, 54 features then the label), either one optionally gzipped.
Reading does not judge the values: `trainer.validation` does, with line numbers that point
into the file.
"""

import csv
import gzip
import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import pandas as pd

from covertype.defaults import DATA_ENV, TRAIN_CSV
from covertype.schema import FEATURE_COLUMNS, LABEL_COLUMN
from trainer.problems import DataValidationError, whole_file

REGISTRY_DATA_SCHEME = "s3://"
UCI_COLUMNS: tuple[str, ...] = (*FEATURE_COLUMNS, LABEL_COLUMN)


class DataNotFoundError(FileNotFoundError):
    """No usable training data was found; the message lists every place that was tried."""


class Layout(StrEnum):
    """How a data file lays out its columns."""

    KAGGLE = "kaggle"  # header row: Id, 54 features, Cover_Type
    UCI = "uci"  # no header: 54 features then the label


@dataclass(frozen=True)
class DataLocation:
    """Where the data comes from: a file, or the scikit-learn download when `path` is None."""

    origin: str  # "--data", "COVERTYPE_DATA", "data/train.csv" or "fetch_covtype"
    path: Path | None
    uri: str | None = None  # the registry URI a local copy at `path` was fetched from

    def describe(self) -> str:
        """Human-readable form, e.g. `/data/train.csv (from --data)`."""
        where = self.uri or (str(self.path) if self.path is not None else "scikit-learn cache")
        return f"{where} (from {self.origin})"


@dataclass(frozen=True)
class RawTable:
    """A table as read, before validation.

    `frame` has positional integer columns; `header` names them (for the UCI layout the
    canonical names). Row `i` of `frame` is line `first_line + i` of the file.
    """

    frame: pd.DataFrame
    header: tuple[str, ...]
    layout: Layout
    location: DataLocation
    first_line: int
    header_line: int | None  # the header's line number, None when there is no header


def locate_data(
    explicit: Path | str | None,
    environ: Mapping[str, str] = os.environ,
    default_file: Path = TRAIN_CSV,
) -> DataLocation:
    """Pick the data source in the documented order.

    An explicit path or `COVERTYPE_DATA` naming a missing file raises `DataNotFoundError`
    rather than falling back: the user asked for that file. `default_file` is resolved
    against the current directory.
    """
    env_value = environ.get(DATA_ENV, "").strip()
    if explicit is not None:
        return _named("--data", str(explicit))
    if env_value:
        return _named(DATA_ENV, env_value)
    if default_file.is_file():
        return DataLocation(str(default_file), default_file.absolute())
    return DataLocation("fetch_covtype", None)


def load_table(location: DataLocation) -> RawTable:
    """Read the data at `location` (downloading through scikit-learn when it names no file)."""
    if location.path is None:
        return _fetch_covtype(location)
    return read_file(location)


def read_file(location: DataLocation) -> RawTable:
    """Read a Kaggle or UCI file, gzipped or not, detecting the layout from its first line."""
    assert location.path is not None
    path = location.path
    first_rows = _first_rows(path, count=2)
    if not first_rows:
        raise DataValidationError(str(path), [whole_file("the file is empty")])
    has_header = not _is_number(first_rows[0][0])
    if has_header:
        header = tuple(name.strip() for name in first_rows[0])
        layout, first_line, header_line = Layout.KAGGLE, 2, 1
    else:
        header, layout, first_line, header_line = UCI_COLUMNS, Layout.UCI, 1, None
    data_rows = first_rows[1:] if has_header else first_rows
    if data_rows and len(data_rows[0]) != len(header):
        expected = "the header has" if has_header else "the UCI layout needs"
        message = f"{len(data_rows[0])} fields, but {expected} {len(header)}"
        raise DataValidationError(str(path), [whole_file(message, line=first_line)])
    try:
        frame = pd.read_csv(
            path,
            header=None,
            skiprows=1 if has_header else 0,
            names=range(len(header)),
            skipinitialspace=True,
            skip_blank_lines=False,  # keeps row i on line first_line + i
            encoding="utf-8-sig",
            low_memory=False,
            compression="gzip" if _is_gzip(path) else None,
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataValidationError(str(path), [whole_file(f"unreadable: {error}")]) from error
    return RawTable(frame, header, layout, location, first_line, header_line)


def options_text() -> str:
    """The list of places data can come from, for error messages."""
    return (
        "Give the data in one of these ways (tried in this order):\n"
        "  1. covertype train --data PATH (or a registry data URI s3://..., see\n"
        "     `covertype data push FILE --registry URI`)\n"
        f"  2. the environment variable {DATA_ENV}=PATH\n"
        f"  3. a file at {TRAIN_CSV} (relative to the current directory)\n"
        "  4. scikit-learn's fetch_covtype, which downloads the UCI set once and caches it\n"
        "     (needs internet access the first time; cache in $SCIKIT_LEARN_DATA or "
        "~/scikit_learn_data)\n"
        "PATH is a Kaggle train.csv (header with Id, the 54 features, Cover_Type) or a UCI\n"
        "covtype.data (no header, 54 features then the label), optionally gzipped (.gz).\n"
        "See data/README.md."
    )


def _named(origin: str, text: str) -> DataLocation:
    """The file a user named: a local path, or a registry data URI fetched into the cache."""
    if not text.startswith(REGISTRY_DATA_SCHEME):
        return _existing(DataLocation(origin, Path(text).absolute()))
    from registry.data import fetch_data
    from registry.errors import RegistryError
    from registry.uri import RegistryURIError

    try:
        return DataLocation(origin, fetch_data(text, _cache_dir()), uri=text)
    except (RegistryError, RegistryURIError) as error:
        raise DataNotFoundError(f"Data file not available: {error}\n{options_text()}") from error


def _cache_dir() -> Path:
    """Where fetched data files are kept, by digest: `$XDG_CACHE_HOME/covertype/data`."""
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home) / "covertype" / "data"


def _existing(location: DataLocation) -> DataLocation:
    assert location.path is not None
    if not location.path.is_file():
        raise DataNotFoundError(
            f"Data file not found: {location.path} (from {location.origin}).\n{options_text()}"
        )
    return location


def _fetch_covtype(location: DataLocation) -> RawTable:
    from sklearn.datasets import fetch_covtype

    try:
        bunch = fetch_covtype(download_if_missing=True)
    except Exception as error:  # network, cache and archive errors all mean "not available"
        raise DataNotFoundError(
            f"No training data found: no --data, no {DATA_ENV}, no {TRAIN_CSV}, and "
            f"scikit-learn's fetch_covtype failed ({type(error).__name__}: {error}).\n"
            f"{options_text()}"
        ) from error
    frame = pd.DataFrame(bunch.data)
    frame[len(FEATURE_COLUMNS)] = bunch.target
    return RawTable(frame, UCI_COLUMNS, Layout.UCI, location, first_line=1, header_line=None)


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _first_rows(path: Path, count: int) -> list[list[str]]:
    opener = gzip.open if _is_gzip(path) else open
    with opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as text:
        rows = []
        for row in csv.reader(text):
            if row:
                rows.append(row)
            if len(rows) == count:
                break
        return rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
