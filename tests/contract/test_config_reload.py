"""HandleReloadConfigRequest replaces the config: version policy, labels, models left out;
the polled config file is applied again on every poll."""

from pathlib import Path

import grpc
import numpy as np
import pytest

from tests.contract.conftest import EXTERNAL_GRPC, LOCAL_FLAGS, MODEL, ServerFactory, Target
from tests.contract.serving_api import ServingClient, model_config, publish, wait_until
from tests.support.model_server import start_model_server


def states_of(target: Target, *versions: int) -> list[str | None]:
    statuses = target.client.statuses()
    return [statuses[v].state if v in statuses else None for v in versions]


def reload(target: Target, policy: str = "", labels: dict[str, int] | None = None) -> None:
    assert target.server_base_path is not None
    target.client.reload(model_config(MODEL, target.server_base_path, policy, labels))


def test_reload_changes_the_policy_and_the_labels(
    fresh_server: ServerFactory, rows: np.ndarray
) -> None:
    target = fresh_server(versions=[1, 2, 3])
    assert target.client.available() == [3]

    reload(target, "specific { versions: 1 versions: 2 }")
    wait_until(
        lambda: states_of(target, 1, 2, 3) == ["AVAILABLE", "AVAILABLE", "END"],
        60,
        "versions 1 and 2 AVAILABLE, 3 END",
    )
    assert target.client.predict(rows).model_spec.version.value == 2

    reload(target, "specific { versions: 1 versions: 2 }", {"stable": 1, "canary": 2})
    assert target.client.predict(rows, label="stable").model_spec.version.value == 1
    assert target.client.predict(rows, label="canary").model_spec.version.value == 2

    reload(target, "specific { versions: 1 versions: 2 }", {"stable": 2, "canary": 1})
    assert target.client.predict(rows, label="stable").model_spec.version.value == 2

    reload(target, "latest { num_versions: 1 }")
    wait_until(lambda: target.client.available() == [3], 60, "version 3 alone AVAILABLE")
    with pytest.raises(grpc.RpcError) as raised:
        target.client.predict(rows, label="stable")
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_label_on_an_unavailable_version_is_refused(
    fresh_server: ServerFactory, rows: np.ndarray
) -> None:
    target = fresh_server(versions=[1, 2])
    with pytest.raises(grpc.RpcError) as raised:
        reload(target, "", {"stable": 1})  # version 1 is not loaded (latest 1 serves 2)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "not currently available" in raised.value.details()
    assert target.client.predict(rows).model_spec.version.value == 2


def test_models_left_out_of_the_config_are_unloaded(
    fresh_server: ServerFactory, rows: np.ndarray
) -> None:
    target = fresh_server(versions=[1])
    empty = model_config(MODEL, target.server_base_path or "/")
    del empty.model_config_list.config[:]
    target.client.reload(empty)
    wait_until(
        lambda: all(s.state == "END" for s in target.client.statuses().values()),
        30,
        "every version END",
    )
    with pytest.raises(grpc.RpcError) as raised:
        target.client.predict(rows)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_the_polled_config_file_wins_over_a_config_pushed_by_rpc(
    saved_model: Path, tmp_path: Path, rows: np.ndarray
) -> None:
    """TF Serving re-applies --model_config_file on every poll, changed or not."""
    if EXTERNAL_GRPC:
        pytest.skip("needs a server started on a config file polled every second")
    base = tmp_path / MODEL
    for version in (1, 2):
        publish(saved_model, base, version)
    policy = "specific { versions: 1 versions: 2 }"
    config_file = tmp_path / "models.config"
    config_file.write_text(str(model_config(MODEL, str(base), policy, {"stable": 1})))
    flags = [
        *LOCAL_FLAGS,
        "--model_config_file_poll_wait_seconds=1",
        "--allow_version_labels_for_unavailable_models=true",
    ]
    with start_model_server(model_config_file=config_file, extra_args=flags) as server:
        client = ServingClient(server.grpc_target, server.rest_url, MODEL)
        wait_until(lambda: client.available() == [1, 2], 60, "versions 1 and 2 AVAILABLE")
        client.reload(model_config(MODEL, str(base), policy, {"stable": 2}))
        assert client.predict(rows, label="stable").model_spec.version.value == 2
        wait_until(
            lambda: client.predict(rows, label="stable").model_spec.version.value == 1,
            15,
            "the file's label back after the next poll",
        )
        client.close()
