"""Where the contract tests run: a local server they start, or a server named by env vars.

By default each fixture starts `covertype serve --backend=local` on free loopback
ports over copies of the trainer's tiny model. With `TFSERVING_GRPC` (and
`TFSERVING_REST`) set, they target that server instead; tests that must change
its model folders also need `TFSERVING_MODEL_BASE_PATH` (see README.md).
"""

import csv
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from covertype import defaults, schema
from tests.contract.serving_api import (
    ServingClient,
    clear_versions,
    model_config,
    publish,
    wait_until,
)
from tests.support.model_server import RunningModelServer, start_model_server

REPO = Path(__file__).resolve().parents[2]
MONITORING_CONFIG = REPO / "tfserving" / "monitoring.config"
MODEL = os.environ.get("TFSERVING_MODEL_NAME", defaults.MODEL_NAME)
EXTERNAL_GRPC = os.environ.get("TFSERVING_GRPC")
EXTERNAL_REST = os.environ.get("TFSERVING_REST")
EXTERNAL_BASE_PATH = os.environ.get("TFSERVING_MODEL_BASE_PATH")
EXTERNAL_SERVER_BASE_PATH = os.environ.get("TFSERVING_SERVER_MODEL_BASE_PATH") or EXTERNAL_BASE_PATH
NEEDS_BASE_PATH = (
    "targets an external server (TFSERVING_GRPC) but changes its model folders: set "
    "TFSERVING_MODEL_BASE_PATH to that server's base path for the model"
)
# The local servers poll every second and give up a broken version at once, as the
# README asks of an external server.
LOCAL_FLAGS = ("--file_system_poll_wait_seconds=1", "--max_num_load_retries=0")


@dataclass
class Target:
    """A model server under test, its client, and (if the tests may change it) its base path."""

    client: ServingClient
    base_path: Path | None
    server_base_path: str | None
    process: RunningModelServer | None = None

    @property
    def external(self) -> bool:
        """Whether the server was started outside the tests."""
        return self.process is None


@pytest.fixture(scope="session")
def saved_model(tiny_candidate: Any) -> Path:
    """The trainer's tiny SavedModel folder; versions are copies of it."""
    return Path(tiny_candidate.path)


@pytest.fixture(scope="session")
def rows(train_csv: Path) -> np.ndarray:
    """Eight real observations, [8, 54] float32 in the canonical column order."""
    with train_csv.open(newline="") as handle:
        reader = csv.DictReader(handle)
        picked = [row for _, row in zip(range(8), reader, strict=False)]
    return np.array([[float(r[c]) for c in schema.FEATURE_COLUMNS] for r in picked], np.float32)


def _external(base_path: Path | None = None) -> Target:
    assert EXTERNAL_GRPC is not None
    return Target(
        ServingClient(EXTERNAL_GRPC, EXTERNAL_REST, MODEL), base_path, EXTERNAL_SERVER_BASE_PATH
    )


def _local(server: RunningModelServer, base_path: Path) -> Target:
    return Target(
        ServingClient(server.grpc_target, server.rest_url, MODEL), base_path, str(base_path), server
    )


@pytest.fixture(scope="session")
def static_server(saved_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """A server with versions 1 and 2 AVAILABLE, labelled stable (1) and canary (2).

    External servers are used as they are; tests needing what they lack skip.
    """
    if EXTERNAL_GRPC:
        target = _external()
        yield target
        target.client.close()
        return
    base = tmp_path_factory.mktemp("static") / MODEL
    for version in (1, 2):
        publish(saved_model, base, version)
    config_file = base.parent / "models.config"
    config = model_config(
        MODEL, str(base), "specific { versions: 1 versions: 2 }", {"stable": 1, "canary": 2}
    )
    config_file.write_text(str(config))
    with start_model_server(
        model_config_file=config_file,
        extra_args=[
            *LOCAL_FLAGS,
            "--allow_version_labels_for_unavailable_models=true",
            f"--monitoring_config_file={MONITORING_CONFIG}",
        ],
    ) as server:
        target = _local(server, base)
        wait_until(lambda: target.client.available() == [1, 2], 60, "versions 1 and 2 AVAILABLE")
        yield target
        target.client.close()


ServerFactory = Callable[..., Target]


@pytest.fixture
def fresh_server(saved_model: Path, tmp_path: Path) -> Iterator[ServerFactory]:
    """Start a server whose base path the test owns: `fresh_server(versions=[1])`.

    Locally: a new `covertype serve` (latest-1 policy, 1 s polls, no load retries).
    Externally: the server of TFSERVING_GRPC, its base path emptied and refilled.
    """
    started: list[Target] = []

    def start(versions: Sequence[int] = (1,), extra_args: Sequence[str] = ()) -> Target:
        if EXTERNAL_GRPC:
            if not EXTERNAL_BASE_PATH:
                pytest.skip(NEEDS_BASE_PATH)
            if extra_args:
                pytest.skip(f"needs server flags {list(extra_args)} the external server may lack")
            base = Path(EXTERNAL_BASE_PATH)
            clear_versions(base)
            for version in versions:
                publish(saved_model, base, version)
            target = _external(base)
            wait_until(
                lambda: target.client.available() == [max(versions)],
                60,
                f"version {max(versions)} alone AVAILABLE",
            )
        else:
            base = tmp_path / f"server{len(started)}" / MODEL
            base.mkdir(parents=True)
            for version in versions:
                publish(saved_model, base, version)
            server = start_model_server(
                model_base_path=base,
                extra_args=[
                    *LOCAL_FLAGS,
                    f"--monitoring_config_file={MONITORING_CONFIG}",
                    *extra_args,
                ],
                wait_for_available=bool(versions),
            )
            target = _local(server, base)
        started.append(target)
        return target

    yield start
    for target in started:
        target.client.close()
        if target.process is not None:
            target.process.stop()
