"""One gateway in front of two model server replicas on the same base path, under load.

The gateway is given both as one standard gRPC target (`ipv4:a:p1,a:p2`), as it
would be given a Kubernetes headless Service (`dns:///...`). Each replica's own
request counter shows that it takes traffic; replicas are then killed (SIGKILL) or
restarted one at a time (SIGTERM, a rolling restart) while clients keep asking.
"""

import os
import re
import signal
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from covertype import defaults
from covertype.schema import EXAMPLE_OBSERVATION
from tests.support.gateway import RunningGateway, start_gateway
from tests.support.load import LoopingClients
from tests.support.model_server import RunningModelServer, start_model_server

REPO = Path(__file__).resolve().parents[2]
REPLICA_FLAGS = [
    f"--monitoring_config_file={REPO / 'tfserving' / 'monitoring.config'}",
    "--enable_grpc_healthcheck_service=true",
]
# Every request the gateway sends must be able to reach either replica at once.
GATEWAY_FLAGS = ["--max-concurrent-calls", "2"]
# gRPC core's own account of the gateway's connections and health watches, shown when
# a replica does not get traffic in time.
GATEWAY_ENV = {"GRPC_VERBOSITY": "INFO", "GRPC_TRACE": "subchannel,health_check_client"}
# After a replica dies, calls already sent to it are retried on the other one; past
# this window no request may fail.
RETRY_WINDOW_SECONDS = 2.0
_REQUEST_COUNT = re.compile(
    r'^:tensorflow:serving:request_count\{[^}]*model_name="' + defaults.MODEL_NAME
    + r'"[^}]*status="OK"[^}]*\} ([0-9.e+]+)$',
    re.MULTILINE,
)  # fmt: skip


@pytest.fixture(scope="module")
def base_path(tmp_path_factory: pytest.TempPathFactory, publish_tiny: Any) -> Path:
    models_dir = tmp_path_factory.mktemp("models")
    publish_tiny(models_dir)
    return models_dir / defaults.MODEL_NAME


def start_replica(
    base_path: Path, grpc_port: int | None = None, rest_port: int | None = None
) -> RunningModelServer:
    return start_model_server(
        model_base_path=base_path,
        extra_args=REPLICA_FLAGS,
        grpc_port=grpc_port,
        rest_port=rest_port,
    )


def restart(replica: RunningModelServer, base_path: Path) -> RunningModelServer:
    """The same replica started again on the same ports (after it has exited)."""
    grpc_port = int(replica.grpc_target.rsplit(":", 1)[1])
    rest_port = int(replica.rest_url.rsplit(":", 1)[1])
    return start_replica(base_path, grpc_port, rest_port)


@pytest.fixture
def replicas(base_path: Path) -> Iterator[list[RunningModelServer]]:
    with ThreadPoolExecutor(2) as pool:
        started = list(pool.map(lambda _: start_replica(base_path), range(2)))
    yield started
    for replica in started:
        replica.stop()


def both(replicas: list[RunningModelServer]) -> str:
    return "ipv4:" + ",".join(replica.grpc_target for replica in replicas)


def served(replica: RunningModelServer) -> float:
    """Predict calls this replica answered OK, from its own Prometheus counter."""
    text = httpx.get(f"{replica.rest_url}/monitoring/prometheus/metrics", timeout=5).text
    return sum(float(value) for value in _REQUEST_COUNT.findall(text))


def eventually(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.1)


def takes_traffic(
    replica: RunningModelServer, gateway: RunningGateway, timeout: float = 90.0
) -> None:
    """Wait until the replica's OK counter grows (the load is running).

    The bound is generous: on a loaded 2-core machine a restarted replica can
    take tens of seconds before the gateway's next reconnect reaches it. On failure
    the message carries the gateway's log without its access log, and the replica's.
    """
    before = served(replica)
    try:
        eventually(lambda: served(replica) > before, timeout, f"{replica.grpc_target} gets traffic")
    except AssertionError as error:
        channel_log = [line for line in gateway.log().splitlines() if "gateway.access" not in line]
        raise AssertionError(
            f"{error}\n--- gateway log (no access log), last lines:\n"
            + "\n".join(channel_log[-150:])
            + f"\n--- replica log, last lines:\n{replica.log()[-3000:]}"
        ) from None


def test_sigkill_of_one_replica_loses_almost_nothing_and_nothing_after_the_retry_window(
    replicas: list[RunningModelServer],
) -> None:
    with (
        start_gateway(both(replicas), extra_args=GATEWAY_FLAGS, env=GATEWAY_ENV) as gateway,
        LoopingClients(gateway.url, EXAMPLE_OBSERVATION) as load,
    ):
        for replica in replicas:
            takes_traffic(replica, gateway)
        before_kill = [served(replica) for replica in replicas]
        killed_at = time.monotonic()
        replicas[0].process.send_signal(signal.SIGKILL)
        replicas[0].process.wait(10)
        load.wait_for_answers(500)
        takes_traffic(replicas[1], gateway)
    failed = load.failures()
    print(
        f"\nSIGKILL: Predict calls per replica before the kill {before_kill}; "
        f"{len(load.answers)} requests, {len(failed)} failed"
    )
    assert len(failed) <= 0.001 * len(load.answers), failed[:5]
    assert load.failures(since=killed_at + RETRY_WINDOW_SECONDS) == [], failed[:5]


def test_rolling_restart_with_sigterm_fails_no_request(
    replicas: list[RunningModelServer], base_path: Path
) -> None:
    with (
        start_gateway(both(replicas), extra_args=GATEWAY_FLAGS, env=GATEWAY_ENV) as gateway,
        LoopingClients(gateway.url, EXAMPLE_OBSERVATION) as load,
    ):
        for replica in replicas:
            takes_traffic(replica, gateway)
        served_before_stop = []
        for index, replica in enumerate(list(replicas)):
            served_before_stop.append(served(replica))
            assert replica.stop() == 0, replica.log()[-2000:]
            load.wait_for_answers(100)
            replicas[index] = restart(replica, base_path)
            takes_traffic(replicas[index], gateway)
    print(
        f"\nrolling restart: Predict calls per replica before its SIGTERM {served_before_stop}; "
        f"{len(load.answers)} requests, {len(load.failures())} failed"
    )
    assert len(load.answers) > 500
    assert load.failures() == [], load.failures()[:5]


def in_progress(gateway: RunningGateway) -> float:
    """Requests the gateway holds right now (this metrics request included)."""
    text = httpx.get(f"{gateway.url}/metrics", timeout=5).text
    match = re.search(r"^covertype_gateway_requests_in_progress ([0-9.]+)$", text, re.MULTILINE)
    assert match, "no covertype_gateway_requests_in_progress in /metrics"
    return float(match.group(1)) - 1


def refuses_connections(url: str) -> bool:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return True
    return False


def test_gateway_finishes_requests_in_flight_on_sigterm(
    replicas: list[RunningModelServer],
) -> None:
    server = replicas[0]
    with start_gateway(server.grpc_target) as gateway:
        assert httpx.post(f"{gateway.url}/v1/predict", json=EXAMPLE_OBSERVATION).status_code == 200
        # A frozen model server keeps the next requests in flight inside the gateway.
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            with ThreadPoolExecutor(4) as pool:
                pending = [
                    pool.submit(
                        httpx.post,
                        f"{gateway.url}/v1/predict",
                        json=EXAMPLE_OBSERVATION,
                        timeout=30,
                    )
                    for _ in range(4)
                ]
                eventually(lambda: in_progress(gateway) >= 4, 10, "4 requests in flight")
                gateway.process.send_signal(signal.SIGTERM)
                eventually(lambda: refuses_connections(gateway.url), 10, "listener closed")
                os.kill(server.process.pid, signal.SIGCONT)
                answers = [future.result() for future in pending]
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        assert [answer.status_code for answer in answers] == [200] * 4
        # uvicorn re-raises the signal once its graceful shutdown is done.
        assert gateway.process.wait(15) == -signal.SIGTERM, gateway.log()[-2000:]
        assert "Finished server process" in gateway.log()
