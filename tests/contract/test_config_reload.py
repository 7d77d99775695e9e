"""HandleReloadConfigRequest replaces the config: version policy, labels, models left out."""

import grpc
import numpy as np
import pytest

from tests.contract.conftest import MODEL, ServerFactory, Target
from tests.contract.serving_api import model_config, wait_until


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
