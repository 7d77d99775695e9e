"""The prediction log writer: content, rotation, draining on close, settings."""

import json
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from covertype.schema import FEATURE_COLUMNS
from gateway.prediction_log import PredictionLog, PredictionLogSettings


def _row(seed: int) -> list[float]:
    numeric = [2500.0 + seed, 45.0, 7.5, 120.0, -3.0, 800.0, 220.0, 230.0, 140.0, 1500.0]
    wilderness = [1.0 if i == seed % 4 else 0.0 for i in range(4)]
    soil = [1.0 if i == seed % 40 else 0.0 for i in range(40)]
    return numeric + wilderness + soil


def _log_request(log: PredictionLog, number: int, instances: int = 1) -> None:
    log.log(
        request_id=f"req-{number}",
        model_name="covertype",
        model_version=1 + number % 2,
        features=[_row(number + i) for i in range(instances)],
        cover_types=[1 + (number + i) % 7 for i in range(instances)],
        probabilities=[[1 / 7] * 7 for _ in range(instances)],
        latency_ms=1.25 + number,
    )


def _lines(paths: list[Path]) -> list[dict]:
    return [json.loads(line) for path in paths for line in path.read_text().splitlines()]


def test_each_instance_is_one_line_with_every_field(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "predictions.jsonl"
    with PredictionLog(PredictionLogSettings(path=path)) as log:
        _log_request(log, 3, instances=2)

    first, second = _lines([path])
    assert first["request_id"] == second["request_id"] == "req-3"
    assert (first["index"], second["index"]) == (0, 1)
    assert first["model_name"] == "covertype" and first["model_version"] == 2
    assert list(first["instance"]) == list(FEATURE_COLUMNS)
    assert first["instance"]["Elevation"] == 2503 and first["instance"]["Slope"] == 7.5
    assert first["instance"]["Wilderness_Area4"] == 1 and first["instance"]["Soil_Type4"] == 1
    assert second["instance"]["Elevation"] == 2504
    assert (first["cover_type"], second["cover_type"]) == (4, 5)
    assert first["probabilities"] == pytest.approx([1 / 7] * 7)
    assert first["latency_ms"] == 4.25
    assert first["time"].endswith("Z")


def test_close_writes_every_queued_line_from_many_threads(tmp_path: Path) -> None:
    path = tmp_path / "predictions.jsonl"
    log = PredictionLog(PredictionLogSettings(path=path))
    log.start()

    def client(offset: int) -> None:
        for number in range(offset, offset + 500):
            _log_request(log, number)

    threads = [threading.Thread(target=client, args=(k * 1000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    log.close()

    ids = [line["request_id"] for line in _lines([path])]
    assert len(ids) == 2000
    assert set(ids) == {f"req-{k * 1000 + n}" for k in range(4) for n in range(500)}


def test_lines_reach_the_file_within_the_flush_interval(tmp_path: Path) -> None:
    path = tmp_path / "predictions.jsonl"
    with PredictionLog(PredictionLogSettings(path=path, flush_seconds=0.05)) as log:
        _log_request(log, 7)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not path.read_text():
            time.sleep(0.01)
        assert [line["request_id"] for line in _lines([path])] == ["req-7"]


def test_rotates_by_size_without_losing_lines(tmp_path: Path) -> None:
    path = tmp_path / "predictions.jsonl"
    settings = PredictionLogSettings(path=path, max_bytes=20_000, backups=50)
    with PredictionLog(settings) as log:
        for number in range(200):
            _log_request(log, number)

    files = [path, *sorted(tmp_path.glob("predictions.jsonl.*"))]
    assert len(files) > 5
    assert all(f.stat().st_size <= 20_000 for f in files)
    assert sorted(line["request_id"] for line in _lines(files)) == sorted(
        f"req-{n}" for n in range(200)
    )


def test_rotation_keeps_only_the_configured_backups(tmp_path: Path) -> None:
    path = tmp_path / "predictions.jsonl"
    with PredictionLog(PredictionLogSettings(path=path, max_bytes=5_000, backups=2)) as log:
        for number in range(100):
            _log_request(log, number)

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "predictions.jsonl",
        "predictions.jsonl.1",
        "predictions.jsonl.2",
    ]
    newest = _lines([path])
    assert newest[-1]["request_id"] == "req-99"


def test_a_dead_writer_process_costs_lines_not_the_gateway(tmp_path: Path) -> None:
    log = PredictionLog(PredictionLogSettings(path=tmp_path / "p.jsonl", flush_seconds=0.05))
    log.start()
    (writer,) = [p for p in multiprocessing.active_children() if p.name == "prediction-log-writer"]
    writer.kill()
    writer.join(timeout=30)
    for number in range(10):
        _log_request(log, number)
    log.close()
    assert (log.logged, log.written) == (10, 0)


def test_the_writer_counts_what_it_wrote_and_ignores_stop_signals(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    log = PredictionLog(PredictionLogSettings(path=path, flush_seconds=0.05))
    log.start()
    (writer,) = [p for p in multiprocessing.active_children() if p.name == "prediction-log-writer"]
    for number in range(5):
        _log_request(log, number)
    # What Ctrl-C or systemd sends to the whole process group reaches the writer too.
    os.kill(writer.pid, signal.SIGINT)
    os.kill(writer.pid, signal.SIGTERM)
    for number in range(5, 12):
        _log_request(log, number)
    log.close()
    assert writer.exitcode == 0
    assert (log.logged, log.written) == (12, 12)
    assert [line["request_id"] for line in _lines([path])] == [f"req-{n}" for n in range(12)]


def test_disabled_log_writes_nothing(tmp_path: Path) -> None:
    with PredictionLog(PredictionLogSettings(path=None)) as log:
        assert not log.enabled
        _log_request(log, 1)
    assert list(tmp_path.iterdir()) == []


def test_logging_to_a_closed_log_is_an_error(tmp_path: Path) -> None:
    log = PredictionLog(PredictionLogSettings(path=tmp_path / "p.jsonl"))
    with log:
        _log_request(log, 1)
    with pytest.raises(RuntimeError, match="not started"):
        _log_request(log, 2)
    assert len(_lines([tmp_path / "p.jsonl"])) == 1


def test_bad_settings_name_the_rule(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_bytes must be >= 0"):
        PredictionLogSettings(path=tmp_path / "p.jsonl", max_bytes=-1)
    with pytest.raises(ValueError, match="backups must be >= 0"):
        PredictionLogSettings(path=tmp_path / "p.jsonl", backups=-1)
    with pytest.raises(ValueError, match="flush_seconds must be > 0"):
        PredictionLogSettings(path=tmp_path / "p.jsonl", flush_seconds=0)
