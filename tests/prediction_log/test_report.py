"""`covertype report` on real prediction logs and model cards."""

import json
from pathlib import Path

import pytest

from covertype.cli import main
from covertype.schema import FEATURE_COLUMNS, NUMERIC_COLUMNS
from gateway.prediction_log import PredictionLog, PredictionLogSettings
from monitoring import report


def _row(elevation: float, soil: int) -> list[float]:
    numeric = [elevation, 45.0, 7.0, 120.0, -3.0, 800.0, 220.0, 230.0, 140.0, 1500.0]
    return numeric + [1.0, 0.0, 0.0, 0.0] + [1.0 if i == soil else 0.0 for i in range(40)]


def _write_card(models_dir: Path, folder: str, elevation: tuple[float, float]) -> None:
    ranges = {name: {"min": 0.0, "max": 1.0} for name in FEATURE_COLUMNS}
    ranges.update({name: {"min": -10.0, "max": 5000.0} for name in NUMERIC_COLUMNS})
    ranges["Elevation"] = {"min": elevation[0], "max": elevation[1]}
    ranges["Soil_Type15"] = {"min": 0.0, "max": 0.0}  # never set in training
    card = models_dir / folder / "assets.extra" / "metrics.json"
    card.parent.mkdir(parents=True)
    card.write_text(json.dumps({"accuracy": 0.9, "feature_ranges": ranges}))


@pytest.fixture
def log_files(tmp_path: Path) -> list[Path]:
    """Version 1: 3 requests (4 predictions); version 2: 2 requests, one input out of range."""
    path = tmp_path / "predictions.jsonl"
    requests = [
        (1, [_row(2000, 0), _row(2100, 1)], [1, 2], 10.0),
        (1, [_row(2200, 0)], [2], 20.0),
        (1, [_row(2300, 2)], [2], 30.0),
        (2, [_row(3900, 14)], [7], 1.0),  # Elevation and Soil_Type15 outside version 2's range
        (2, [_row(2500, 0)], [1], 3.0),
    ]
    with PredictionLog(PredictionLogSettings(path=path, max_bytes=4_000, backups=10)) as log:
        for number, (version, rows, classes, latency) in enumerate(requests):
            log.log(
                request_id=f"r{number}",
                model_name="covertype",
                model_version=version,
                features=rows,
                cover_types=classes,
                probabilities=[[1 / 7] * 7] * len(rows),
                latency_ms=latency,
            )
    files = list(report.with_rotated([path]))
    assert len(files) > 1, "the fixture should span rotated files"
    return files


def test_summary_per_version(tmp_path: Path, log_files: list[Path]) -> None:
    models_dir = tmp_path / "models"
    _write_card(models_dir, "covertype/2", elevation=(1800, 3500))
    _write_card(models_dir, "covertype.archive/1", elevation=(1800, 2150))

    entries, skipped = report.read_entries(log_files)
    summary = report.summarise(
        entries, lambda v: report.model_card_ranges(models_dir, "covertype", v)
    )

    assert skipped == 0 and summary.predictions == 6
    one, two = summary.versions
    assert (one.version, one.requests, one.predictions, one.classes) == (1, 3, 4, {1: 1, 2: 3})
    assert one.latency_ms == {"p50": 20.0, "p90": 28.0, "p99": 29.8, "max": 30.0}
    assert one.outside_training_range is not None
    assert one.outside_training_range["Elevation"] == 0.5  # 2200 and 2300 > 2150
    assert one.model_card is not None and "covertype.archive" in one.model_card
    assert (two.version, two.requests, two.classes) == (2, 2, {1: 1, 7: 1})
    assert two.outside_training_range is not None
    assert two.outside_training_range["Elevation"] == 0.5
    assert two.outside_training_range["Soil_Type15"] == 0.5
    assert two.outside_training_range["Slope"] == 0.0


def test_report_command_prints_every_section(
    tmp_path: Path, log_files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    models_dir = tmp_path / "models"
    _write_card(models_dir, "covertype/2", elevation=(1800, 3500))

    assert main(["report", str(log_files[0]), "--models-dir", str(models_dir)]) == 0
    text = capsys.readouterr().out
    assert "6 predictions, 2 model version(s)" in text
    assert "== version 1: 3 requests, 4 predictions" in text
    assert "2 Lodgepole Pine" in text and "75.0%" in text
    assert "request latency: p50 20.00 ms, p90 28.00 ms, p99 29.80 ms, max 30.00 ms" in text
    assert "unknown (no model card with feature ranges found)" in text  # version 1: no card
    assert "Soil_Type15" in text and "50.0%" in text

    assert main(["report", str(log_files[0]), "--json", "--models-dir", str(models_dir)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [v["version"] for v in data["versions"]] == [1, 2]
    assert data["versions"][1]["outside_training_range"]["Elevation"] == 0.5


def test_unreadable_lines_are_counted_not_fatal(tmp_path: Path, log_files: list[Path]) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text(log_files[0].read_text() + '{"request_id": "cut sho\n[1, 2]\n')
    entries, skipped = report.read_entries([broken])
    assert skipped == 2
    assert len(entries) == len(log_files[0].read_text().splitlines())


def test_missing_log_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "absent.jsonl")]) == 1
    assert "cannot read prediction log" in capsys.readouterr().err
