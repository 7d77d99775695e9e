"""The gateway's prediction log end to end: real model server and gateway processes."""

import contextlib
import csv
import io
import json
import os
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from covertype.cli import main
from covertype.schema import (
    CLASS_NAMES,
    EXAMPLE_OBSERVATION,
    FEATURE_COLUMNS,
    NUMERIC_COLUMNS,
    SOIL_COLUMNS,
    WILDERNESS_COLUMNS,
)
from monitoring.report import with_rotated
from tests.support.gateway import start_gateway
from tests.support.load import LoopingClients
from tests.support.model_server import RunningModelServer, start_model_server


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, publish_tiny: Any
) -> Iterator[tuple[RunningModelServer, Path]]:
    models_dir = tmp_path_factory.mktemp("prediction-log") / "models"
    publish_tiny(models_dir)
    with start_model_server(model_base_path=models_dir / "covertype") as server:
        yield server, models_dir


@pytest.fixture(scope="module")
def observations(train_csv: Path) -> list[dict[str, int]]:
    """Real rows; every other one in the compact encoding (wilderness_area, soil_type)."""
    with train_csv.open() as handle:
        rows = [row for _, row in zip(range(60), csv.DictReader(handle), strict=False)]
    result = []
    for index, row in enumerate(rows):
        values = {name: int(row[name]) for name in FEATURE_COLUMNS}
        if index % 2:
            observation = {name: values[name] for name in NUMERIC_COLUMNS}
            observation["wilderness_area"] = 1 + [values[c] for c in WILDERNESS_COLUMNS].index(1)
            observation["soil_type"] = 1 + [values[c] for c in SOIL_COLUMNS].index(1)
            result.append(observation)
        else:
            result.append(values)
    return result


def _as_features(observation: dict[str, int]) -> dict[str, int]:
    """The 54 features by name, whichever encoding the observation used."""
    if "soil_type" not in observation:
        return {name: observation.get(name, 0) for name in FEATURE_COLUMNS}
    features = {name: observation[name] for name in NUMERIC_COLUMNS}
    for index, name in enumerate(WILDERNESS_COLUMNS, start=1):
        features[name] = int(observation["wilderness_area"] == index)
    for index, name in enumerate(SOIL_COLUMNS, start=1):
        features[name] = int(observation["soil_type"] == index)
    return features


def _read_lines(log_path: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in with_rotated([log_path])
        for line in path.read_text().splitlines()
    ]


def test_log_matches_the_responses_and_feeds_the_report(
    served: tuple[RunningModelServer, Path],
    observations: list[dict[str, int]],
    tmp_path: Path,
) -> None:
    server, models_dir = served
    log_path = tmp_path / "logs" / "predictions.jsonl"
    sent: dict[str, tuple[list[dict[str, int]], dict[str, Any]]] = {}
    options = {
        "--prediction-log": str(log_path),
        "--prediction-log-max-bytes": "30000",
        "--prediction-log-backups": "100",
    }
    gateway = start_gateway(server.grpc_target, extra_args=[a for o in options.items() for a in o])
    with gateway, httpx.Client(timeout=10) as http:
        url = f"{gateway.url}/v1/predict"
        for start in range(0, len(observations), 3):
            batch = observations[start : start + 3]
            request_id = f"sequential-{start}"
            response = http.post(
                url, json={"instances": batch}, headers={"X-Request-ID": request_id}
            )
            assert response.status_code == 200, response.text
            sent[request_id] = (batch, response.json())
        rejected = http.post(url, json={"Elevation": -5})
        assert rejected.status_code == 422

        # A burst from several clients right before shutdown: nothing may be lost.
        def client(worker: int) -> None:
            with httpx.Client(timeout=10) as own:
                for number in range(25):
                    observation = observations[(worker * 25 + number) % len(observations)]
                    request_id = f"burst-{worker}-{number}"
                    response = own.post(url, json=observation, headers={"X-Request-ID": request_id})
                    assert response.status_code == 200, response.text
                    sent[request_id] = ([observation], response.json())

        threads = [threading.Thread(target=client, args=(worker,)) for worker in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        gateway.stop()  # SIGTERM: uvicorn's graceful shutdown runs the app's lifespan exit
        assert "Application shutdown complete" in gateway.log()

    lines = _read_lines(log_path)
    assert len(list(with_rotated([log_path]))) > 1, "the log should have rotated"
    assert len(lines) == sum(len(batch) for batch, _ in sent.values())
    assert {line["request_id"] for line in lines} == set(sent)
    for line in lines:
        batch, answer = sent[line["request_id"]]
        prediction = answer["predictions"][line["index"]]
        assert line["model_name"] == answer["model_name"] == "covertype"
        assert line["model_version"] == answer["model_version"]
        assert line["cover_type"] == prediction["cover_type"]
        expected = [prediction["probabilities"][name] for name in CLASS_NAMES.values()]
        assert line["probabilities"] == pytest.approx(expected)
        assert line["instance"] == _as_features(batch[line["index"]])
        assert line["latency_ms"] > 0

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["report", str(log_path), "--models-dir", str(models_dir), "--json"])
    assert code == 0
    report = json.loads(out.getvalue())
    (version,) = report["versions"]
    answers = [p["cover_type"] for _, answer in sent.values() for p in answer["predictions"]]
    assert version["requests"] == len(sent)
    assert version["predictions"] == len(answers)
    assert version["classes"] == {str(k): v for k, v in Counter(answers).items()}
    assert set(version["latency_ms"]) == {"p50", "p90", "p99", "max"}
    assert version["model_card"].endswith("metrics.json")
    # Rows from the training file lie inside the training range, except where the
    # tiny model's sample missed the extremes.
    assert set(version["outside_training_range"]) == set(FEATURE_COLUMNS)
    assert all(0 <= share < 0.5 for share in version["outside_training_range"].values())


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_a_signal_to_the_whole_process_group_loses_no_answered_prediction(
    served: tuple[RunningModelServer, Path], tmp_path: Path, stop_signal: signal.Signals
) -> None:
    server, _ = served
    log_path = tmp_path / "predictions.jsonl"
    gateway = start_gateway(
        server.grpc_target, extra_args=["--prediction-log", str(log_path)], new_session=True
    )
    with gateway, LoopingClients(gateway.url, EXAMPLE_OBSERVATION, clients=6) as load:
        load.wait_for_answers(300)
        # As Ctrl-C or systemd do: the gateway and its prediction-log writer both get it.
        os.killpg(gateway.process.pid, stop_signal)
        gateway.process.wait(30)
    answered = {a.request_id for a in load.answers if a.status == 200}
    lines = _read_lines(log_path)
    assert len(answered) >= 300
    assert sorted(line["request_id"] for line in lines) == sorted(answered)
    assert f"prediction log closed: {len(answered)} prediction(s) written" in gateway.log()
    assert ", 0 lost" in gateway.log()
