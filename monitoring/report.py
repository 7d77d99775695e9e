"""`covertype report`: summarise prediction logs (see `gateway.prediction_log`).

Per model version: requests and predictions, the predicted class distribution,
request latency percentiles, and, when the version's model card is found under
`--models-dir`, the share of inputs outside the range of the training data per
feature (a first drift signal). Pure Python: runs wherever the gateway runs.
"""

import json
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from covertype.defaults import ARCHIVE_SUFFIX, ASSETS_EXTRA, METRICS_FILE
from covertype.schema import CLASS_NAMES, FEATURE_COLUMNS

# Model card key written by the trainer: {feature: {"min": x, "max": y}} over the training rows.
RANGES_KEY = "feature_ranges"
PERCENTILES = (50, 90, 99)

TrainingRanges = dict[str, tuple[float, float]]


class ReportError(Exception):
    """A log file cannot be read."""


@dataclass
class VersionSummary:
    """What one model version answered."""

    version: int
    requests: int = 0
    predictions: int = 0
    classes: dict[int, int] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    # feature -> share of this version's inputs outside the training range; None: no card.
    outside_training_range: dict[str, float] | None = None
    model_card: str | None = None


@dataclass
class Report:
    """The whole summary of one or more log files."""

    files: list[str]
    predictions: int
    skipped_lines: int
    versions: list[VersionSummary]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)


def read_entries(paths: Iterable[Path]) -> tuple[list[dict[str, Any]], int]:
    """Every prediction line of `paths` and the number of lines skipped as unreadable.

    A line that is not a JSON object with the log's fields (for example one cut
    short by a crash) is skipped and counted, not fatal.
    """
    entries: list[dict[str, Any]] = []
    skipped = 0
    for path in paths:
        try:
            handle = path.open(encoding="utf-8")
        except OSError as error:
            raise ReportError(f"cannot read prediction log {path}: {error.strerror}") from error
        with handle:
            found, unreadable = parse_entries(handle)
        entries += found
        skipped += unreadable
    return entries, skipped


def parse_entries(lines: Iterable[str]) -> tuple[list[dict[str, Any]], int]:
    """The prediction entries among `lines` and the number of unreadable lines skipped."""
    entries: list[dict[str, Any]] = []
    skipped = 0
    for line in lines:
        if not line.strip():
            continue
        entry = _parse_line(line)
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    return entries, skipped


def summarise(
    entries: Iterable[dict[str, Any]],
    ranges_for: Callable[[int], tuple[TrainingRanges, str] | None] = lambda _version: None,
    files: Iterable[Path] = (),
    skipped_lines: int = 0,
) -> Report:
    """Summarise `entries` per version.

    `ranges_for(version)` returns that version's training ranges and the model card
    they came from, or None when unknown.
    """
    by_version: dict[int, list[dict[str, Any]]] = {}
    for entry in entries:
        by_version.setdefault(entry["model_version"], []).append(entry)
    versions = [
        _summarise_version(version, rows, ranges_for(version))
        for version, rows in sorted(by_version.items())
    ]
    return Report(
        files=[str(p) for p in files],
        predictions=sum(v.predictions for v in versions),
        skipped_lines=skipped_lines,
        versions=versions,
    )


def model_card_ranges(
    models_dir: Path, model_name: str, version: int
) -> tuple[TrainingRanges, str] | None:
    """The training ranges from version's model card, in the base path or the archive."""
    candidates = [models_dir / model_name / str(version)]
    archive = models_dir / f"{model_name}{ARCHIVE_SUFFIX}"
    # Newest archived copy first: a number re-used after a rollback is archived as `<N>-<run>`.
    candidates += sorted(
        (p for p in archive.glob(f"{version}*") if p.name.split("-")[0] == str(version)),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for folder in candidates:
        card = folder / ASSETS_EXTRA / METRICS_FILE
        try:
            metrics = json.loads(card.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        raw = metrics.get(RANGES_KEY)
        if isinstance(raw, dict):
            ranges = {
                name: (float(bounds["min"]), float(bounds["max"])) for name, bounds in raw.items()
            }
            return ranges, str(card)
    return None


def render(report: Report) -> str:
    """The report as text for a terminal."""
    out = [
        f"Prediction log: {', '.join(report.files) or '-'}",
        f"{report.predictions} predictions, {len(report.versions)} model version(s)"
        + (f", {report.skipped_lines} unreadable line(s) skipped" if report.skipped_lines else ""),
    ]
    for summary in report.versions:
        out += [
            "",
            f"== version {summary.version}: {summary.requests} requests, "
            f"{summary.predictions} predictions",
        ]
        out.append("  classes:")
        for cover_type, name in CLASS_NAMES.items():
            count = summary.classes.get(cover_type, 0)
            share = count / summary.predictions if summary.predictions else 0.0
            out.append(f"    {cover_type} {name:<18} {count:>8}  {share:6.1%}")
        latency = ", ".join(f"{k} {v:.2f} ms" for k, v in summary.latency_ms.items())
        out.append(f"  request latency: {latency or '-'}")
        out += _render_drift(summary)
    return "\n".join(out)


def _render_drift(summary: VersionSummary) -> list[str]:
    if summary.outside_training_range is None:
        return ["  outside training range: unknown (no model card with feature ranges found)"]
    drifted = sorted(
        ((share, name) for name, share in summary.outside_training_range.items() if share > 0),
        reverse=True,
    )
    if not drifted:
        return [f"  outside training range: none (all {len(FEATURE_COLUMNS)} features in range)"]
    lines = [f"  outside training range ({len(drifted)} feature(s), share of inputs):"]
    lines += [f"    {name:<36} {share:6.1%}" for share, name in drifted]
    return lines


def _summarise_version(
    version: int,
    rows: list[dict[str, Any]],
    ranges: tuple[TrainingRanges, str] | None,
) -> VersionSummary:
    classes = Counter(int(row["cover_type"]) for row in rows)
    request_latency: dict[str, float] = {}
    for row in rows:
        request_latency.setdefault(row["request_id"], float(row["latency_ms"]))
    summary = VersionSummary(
        version=version,
        requests=len(request_latency),
        predictions=len(rows),
        classes=dict(sorted(classes.items())),
        latency_ms=_percentiles(list(request_latency.values())),
    )
    if ranges is not None:
        training, card = ranges
        summary.outside_training_range = _outside_shares(rows, training)
        summary.model_card = card
    return summary


def _outside_shares(rows: list[dict[str, Any]], training: TrainingRanges) -> dict[str, float]:
    outside: Counter[str] = Counter()
    for row in rows:
        instance = row["instance"]
        for name, (low, high) in training.items():
            value = instance.get(name)
            if value is not None and not low <= value <= high:
                outside[name] += 1
    return {name: outside[name] / len(rows) for name in FEATURE_COLUMNS if name in training}


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    if len(values) == 1:
        cuts = {p: values[0] for p in PERCENTILES}
    else:
        quantiles = statistics.quantiles(values, n=100, method="inclusive")
        cuts = {p: quantiles[p - 1] for p in PERCENTILES}
    result = {f"p{p}": round(v, 3) for p, v in cuts.items()}
    result["max"] = round(max(values), 3)
    return result


_REQUIRED = {"request_id": str, "model_version": int, "cover_type": int, "instance": dict}


def _parse_line(line: str) -> dict[str, Any] | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict):
        return None
    if not all(isinstance(entry.get(key), kind) for key, kind in _REQUIRED.items()):
        return None
    if not isinstance(entry.get("latency_ms"), int | float):
        return None
    return entry


def with_rotated(paths: Iterable[Path]) -> Iterator[Path]:
    """Each given file followed by its rotated backups (`<path>.1`, ...), each file once."""
    seen: set[Path] = set()
    for path in paths:
        index = 0
        current = path
        while index == 0 or current.exists():
            if current.resolve() not in seen:
                seen.add(current.resolve())
                yield current
            index += 1
            current = path.with_name(f"{path.name}.{index}")
