"""The release pipeline end to end: real trainer, model server and gateway processes.

Each test starts its own stack on an empty base path. The release history is the
subject of `test_a_release_history`: its steps run in order inside that one test, each
building on the state the previous left, so every test runs alone and in any order.
The model server runs from the `models.config` the release tools manage, polling it,
as a deployment would. Candidates are tiny (a few hundred to a few thousand rows, 1-3
epochs) so the module stays within a few minutes on 2 cores.
"""

import contextlib
import io
import json
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from covertype.cli import main
from covertype.defaults import ASSETS_EXTRA, METRICS_FILE, MODEL_NAME
from covertype.schema import EXAMPLE_OBSERVATION
from release.candidates import BOTH, CANDIDATE_ONLY
from tests.support.gateway import RunningGateway, start_gateway
from tests.support.model_server import RunningModelServer, start_model_server

pytestmark = pytest.mark.timeout(900)

# A good-enough first version and a deliberately worse candidate (1 epoch), on the same
# sample and seed: the gate compares them on the test rows both held out.
GOOD = ("--epochs", "3", "--sample", "3000", "--min-accuracy", "0.4")
WORSE = ("--epochs", "1", "--sample", "3000")


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Stack:
    models_dir: Path
    server: RunningModelServer
    gateway: RunningGateway
    train_csv: Path

    @property
    def base(self) -> Path:
        return self.models_dir / MODEL_NAME

    @property
    def archive(self) -> Path:
        return self.models_dir / f"{MODEL_NAME}.archive"

    @property
    def config_file(self) -> Path:
        return self.models_dir / "models.config"

    def covertype(self, *args: str) -> CliResult:
        """Run `covertype <args>` in this process (TensorFlow is loaded once for the module)."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
        return CliResult(code, out.getvalue(), err.getvalue())

    def release(self, *args: str) -> CliResult:
        return self.covertype(
            "release",
            "--models-dir", str(self.models_dir),
            "--tfserving", self.server.grpc_target,
            "--gateway", self.gateway.url,
            "--quiet",
            *args,
        )  # fmt: skip

    def tool(self, command: str, *args: str) -> CliResult:
        return self.covertype(
            command, *args, "--models-dir", str(self.models_dir),
            "--tfserving", self.server.grpc_target,
        )  # fmt: skip

    def events(self) -> list[dict[str, Any]]:
        path = self.models_dir / f"{MODEL_NAME}.releases.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]

    def run_events(self, run_output: str) -> list[str]:
        """The event names recorded by the run whose report is `run_output`."""
        run = run_output.split("== release ")[1].split(":")[0]
        return [e["event"] for e in self.events() if e["run"] == run]

    def predict(self, **params: str) -> httpx.Response:
        return httpx.post(
            f"{self.gateway.url}/v1/predict", params=params, json=EXAMPLE_OBSERVATION, timeout=10
        )

    def served_version(self, **params: str) -> int:
        response = self.predict(**params)
        assert response.status_code == 200, response.text
        return response.json()["model_version"]

    def versions_on_disk(self) -> list[str]:
        return sorted(p.name for p in self.base.iterdir() if p.name.isdigit())


@pytest.fixture
def stack(tmp_path: Path, train_csv: Path) -> Iterator[Stack]:
    from release.server_config import default_config, save_config

    models_dir = tmp_path / "models"
    (models_dir / MODEL_NAME).mkdir(parents=True)
    config_file = models_dir / "models.config"
    save_config(config_file, default_config(models_dir, MODEL_NAME))
    server = start_model_server(
        model_config_file=config_file,
        wait_for_available=False,
        extra_args=(
            "--model_config_file_poll_wait_seconds=1",
            # TF Serving retries a failed load 5 times a minute apart (the default);
            # without retries the broken version reports its error at once.
            "--max_num_load_retries=0",
        ),
    )
    with server:
        gateway = start_gateway(
            server.grpc_target, extra_args=("--model-config-file", str(config_file))
        )
        with gateway:
            yield Stack(models_dir, server, gateway, train_csv)


def _wait_until(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {seconds:g} s"
        time.sleep(0.05)


def _ok(result: CliResult, code: int = 0) -> str:
    assert result.returncode == code, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_invalid_data_stops_before_training(stack: Stack, tmp_path: Path) -> None:
    lines = stack.train_csv.read_text().splitlines()[:200]
    header = lines[0].split(",")
    row = lines[5].split(",")
    row[header.index("Slope")] = "95"  # Slope must be between 0 and 90
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([*lines[:5], ",".join(row), *lines[6:]]) + "\n")

    out = _ok(stack.release("--data", str(bad)), 2)

    assert "Slope" in out and "FAILED: invalid data (nothing published)" in out
    assert stack.versions_on_disk() == []
    assert stack.run_events(out) == ["failed"]


def _first_release_from_an_empty_base_path(stack: Stack) -> None:
    out = _ok(stack.release("--data", str(stack.train_csv), *GOOD, "--reason", "first"))

    assert "RELEASED version 1" in out
    for step in ("preflight", "validate", "candidate", "gate", "publish", "verify"):
        assert f"] {step}: " in out
    assert "first release: accuracy" in out and "p50" in out
    assert stack.versions_on_disk() == ["1"]
    assert stack.served_version() == 1
    assert stack.run_events(out) == ["trained", "gate", "publishing", "published", "verified"]
    gate = next(e for e in stack.events() if e["event"] == "gate")
    assert gate["details"]["verdict"] == "passed" and gate["reason"].startswith("first (")
    assert gate["details"]["candidate"]["latency_p50_ms"] > 0
    assert gate["details"]["evaluation"] == {"rows": 600, "held_out_by": CANDIDATE_ONLY}
    assert not list((stack.models_dir / ".candidates").glob("*/*")), "published: workdir removed"


def _a_worse_candidate_is_halted_and_the_live_version_untouched(stack: Stack) -> None:
    out = _ok(stack.release("--data", str(stack.train_csv), *WORSE), 3)

    assert "HALTED by the gate (nothing published)" in out
    assert "NO  accuracy" in out
    assert stack.versions_on_disk() == ["1"]
    assert stack.served_version() == 1
    assert stack.run_events(out) == ["trained", "gate"]
    gate = stack.events()[-1]
    assert gate["details"]["verdict"] == "halted" and gate["details"]["live_version"] == 1
    live, candidate = gate["details"]["live"], gate["details"]["candidate"]
    assert candidate["accuracy"] < live["accuracy"] and candidate["rows"] == live["rows"] == 600
    assert gate["details"]["evaluation"]["held_out_by"] == BOTH
    kept = Path(stack.events()[-2]["details"]["path"])
    assert kept.is_dir() and stack.models_dir / ".candidates" in kept.parents


def _a_forced_release_bypasses_the_gate_and_says_so(stack: Stack) -> None:
    forced = ("--force", "--compute-dtype", "float32")
    out = _ok(stack.release("--data", str(stack.train_csv), *WORSE, *forced))

    assert "RELEASED version 2" in out and "gate bypassed with --force" in out
    card = json.loads((stack.base / "2" / ASSETS_EXTRA / METRICS_FILE).read_text())
    assert card["compute_dtype"] == "float32", "the candidate trained as asked"
    assert stack.served_version() == 2
    assert stack.run_events(out) == ["trained", "gate", "publishing", "published", "verified"]
    gate = next(e for e in reversed(stack.events()) if e["event"] == "gate")
    assert gate["details"]["verdict"] == "forced"


def _labels_load_a_version_and_route_requests(stack: Stack) -> None:
    from release.server_config import labels_of, load_config, model_config

    # Under `latest 1` version 1 is unloaded: the label must load it first.
    _ok(stack.tool("label", "stable", "1"))
    _ok(stack.tool("label", "canary", "2"))
    assert stack.served_version(label="stable") == 1
    assert stack.served_version(label="canary") == 2
    assert stack.served_version() == 2

    out = _ok(stack.tool("label", "canary", "1"))
    assert "label canary: 2 -> 1" in out
    assert stack.served_version(label="canary") == 1
    _ok(stack.tool("label", "canary", "2"))
    assert stack.served_version(label="canary") == 2

    refused = stack.tool("label", "canary", "9")
    assert refused.returncode == 1 and "version 9 is not in" in refused.stderr
    config = load_config(stack.config_file, stack.models_dir, MODEL_NAME)
    assert labels_of(config, MODEL_NAME) == {"stable": 1, "canary": 2}
    policy = model_config(config, MODEL_NAME).model_version_policy
    assert list(policy.specific.versions) == [1, 2]
    models = httpx.get(f"{stack.gateway.url}/v1/models", timeout=10).json()
    assert models["labels"] == {"stable": 1, "canary": 2}
    labelled = [e for e in stack.events() if e["event"] == "labelled"]
    assert [e["details"]["label"] for e in labelled] == ["stable", "canary", "canary", "canary"]
    assert [e["version"] for e in labelled] == [1, 2, 1, 2]


def _a_version_that_fails_to_load_is_rolled_back(
    stack: Stack, tiny_candidate: Any, tmp_path: Path
) -> None:
    broken = tmp_path / "broken-candidate"
    shutil.copytree(tiny_candidate.path, broken)
    (broken / "saved_model.pb").write_bytes(b"not a SavedModel")

    out = _ok(stack.release("--candidate", str(broken), "--force", "--verify-timeout", "60"), 4)

    assert "ROLLED BACK version 3" in out and "failed to load" in out
    assert stack.versions_on_disk() == ["1", "2"]
    assert (stack.archive / "3" / "saved_model.pb").read_bytes() == b"not a SavedModel"
    assert stack.served_version() == 2
    assert stack.served_version(label="stable") == 1
    assert stack.run_events(out) == [
        "trained", "gate", "publishing", "published", "verify_failed", "archiving", "archived",
    ]  # fmt: skip


def _rollback_while_a_client_loops_fails_no_request(stack: Stack) -> None:
    answers: Counter[int] = Counter()
    failures: list[str] = []
    stop = threading.Event()

    def client() -> None:
        deadline = time.monotonic() + 120
        with httpx.Client(timeout=10) as http:
            for _ in range(100_000):
                if stop.is_set() or time.monotonic() > deadline:
                    return
                try:
                    response = http.post(
                        f"{stack.gateway.url}/v1/predict", json=EXAMPLE_OBSERVATION
                    )
                except httpx.HTTPError as error:
                    failures.append(repr(error))
                    continue
                if response.status_code == 200:
                    answers[response.json()["model_version"]] += 1
                else:
                    failures.append(f"{response.status_code} {response.text}")

    thread = threading.Thread(target=client)
    thread.start()
    try:
        _wait_until(lambda: answers[2] > 0 or bool(failures), "an answer from version 2")
        out = _ok(stack.tool("rollback", "--reason", "bad canary"))
        _wait_until(lambda: answers[1] > 0 or bool(failures), "an answer from version 1")
    finally:
        stop.set()
        thread.join(timeout=30)

    assert failures == []
    assert answers[2] > 0 and answers[1] > 0, answers
    assert "archived version 2" in out and "live: version 1" in out
    assert "label canary: 2 -> 1 (moved to the fallback)" in out and "label stable" not in out
    assert stack.versions_on_disk() == ["1"]
    assert (stack.archive / "2" / "saved_model.pb").is_file()
    assert stack.served_version() == 1
    assert stack.served_version(label="canary") == 1
    archived = [e for e in stack.events() if e["event"] == "archived"]
    assert archived[-1]["version"] == 2 and archived[-1]["reason"] == "bad canary"


def _versions_table_tells_the_whole_story(stack: Stack) -> None:
    out = _ok(stack.tool("versions"))
    rows = out.splitlines()[1:]
    by_version = {row.split()[0]: row.split() for row in rows}

    assert by_version["1"][1:4] == ["live", "AVAILABLE", "canary,stable"]
    assert by_version["2"][1] == "archived" and "bad canary" in out
    assert by_version["3"][1] == "archived" and "failed to load" in out
    halted = [row for row in rows if row.startswith("-(")]
    assert len(halted) == 1 and halted[0].split()[1] == "halted"
    assert len(rows) == 4


def test_a_release_history(stack: Stack, tiny_candidate: Any, tmp_path: Path) -> None:
    """First release, a halted candidate, a forced one, labels, a version that fails to load,
    a rollback under load, and the versions table that tells it all."""
    _first_release_from_an_empty_base_path(stack)
    _a_worse_candidate_is_halted_and_the_live_version_untouched(stack)
    _a_forced_release_bypasses_the_gate_and_says_so(stack)
    _labels_load_a_version_and_route_requests(stack)
    _a_version_that_fails_to_load_is_rolled_back(stack, tiny_candidate, tmp_path)
    _rollback_while_a_client_loops_fails_no_request(stack)
    _versions_table_tells_the_whole_story(stack)
