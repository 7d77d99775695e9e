"""Settings precedence (flag > environment > default) and version labels from models.config."""

from pathlib import Path

import pytest

from covertype import defaults
from gateway.labels import LabelsUnavailable, read_version_labels
from gateway.settings import GatewaySettings, SettingsError, load_settings


def test_defaults_come_from_covertype_defaults() -> None:
    settings = load_settings({}, environ={})
    assert settings == GatewaySettings()
    assert settings.port == defaults.GATEWAY_PORT
    assert settings.tfserving == f"{defaults.HOST}:{defaults.GRPC_PORT}"
    assert settings.max_instances == 1000
    assert settings.model_config_file is None


def test_environment_overrides_defaults_and_flags_override_environment() -> None:
    environ = {
        "COVERTYPE_GATEWAY_PORT": "9000",
        "COVERTYPE_TFSERVING": "model-server:8500",
        "COVERTYPE_GATEWAY_TIMEOUT_SECONDS": "0.5",
        "COVERTYPE_GATEWAY_MAX_INSTANCES": "20",
        "COVERTYPE_GATEWAY_MAX_CONCURRENT_CALLS": "3",
        "COVERTYPE_GATEWAY_MODEL_CONFIG_FILE": "/etc/models.config",
        "COVERTYPE_MODEL_NAME": "",
    }
    settings = load_settings({"port": 9100, "host": None}, environ=environ)
    assert settings.port == 9100
    assert settings.tfserving == "model-server:8500"
    assert settings.timeout_seconds == 0.5
    assert settings.max_instances == 20
    assert settings.max_concurrent_calls == 3
    assert settings.model_config_file == Path("/etc/models.config")
    assert settings.model_name == defaults.MODEL_NAME


@pytest.mark.parametrize(
    ("overrides", "environ", "message"),
    [
        ({}, {"COVERTYPE_GATEWAY_PORT": "eighty"}, "COVERTYPE_GATEWAY_PORT='eighty'"),
        ({"port": 70000}, {}, "port must be between"),
        ({"timeout_seconds": 0.0}, {}, "timeout_seconds must be > 0"),
        ({"max_instances": 0}, {}, "max_instances must be >= 1"),
        ({}, {"COVERTYPE_GATEWAY_MAX_BODY_BYTES": "-1"}, "max_body_bytes must be >= 1"),
        ({"max_concurrent_calls": 0}, {}, "max_concurrent_calls must be >= 1"),
        ({"max_instances": 2000}, {}, r"max_batch_instances \(1024\) must be >= max_instances"),
        ({"tfserving": ""}, {}, "tfserving must be host:port or a gRPC target"),
        ({"tfserving": "model-server"}, {}, "tfserving must be host:port"),
        ({"tfserving": "model-server:99999"}, {}, "tfserving must be host:port"),
        ({}, {"COVERTYPE_TFSERVING": "http://model-server:8500"}, "tfserving must be host:port"),
    ],
)
def test_unusable_values_are_refused_by_name(
    overrides: dict[str, object], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(overrides, environ=environ)


@pytest.mark.parametrize(
    "target",
    [
        "model-server:8500",
        "10.0.0.7:8500",
        "[::1]:8500",
        "dns:///tfserving-headless.covertype.svc.cluster.local:8500",
        "ipv4:127.0.0.1:8500,127.0.0.1:8510",
        "unix:/tmp/tf-serving.sock",
    ],
)
def test_any_grpc_target_is_accepted(target: str) -> None:
    assert load_settings({"tfserving": target}, environ={}).tfserving == target


MODELS_CONFIG = """
model_config_list {
  config {
    name: "other"
    base_path: "/models/other"
    version_labels { key: "stable" value: 9 }
  }
  config {
    name: "covertype"
    base_path: "/models/covertype"
    model_platform: "tensorflow"
    model_version_policy { specific { versions: 1 versions: 2 } }
    version_labels { key: "stable" value: 1 }
    version_labels { key: "canary" value: 2 }
  }
}
"""


def test_labels_are_read_for_the_model_only(tmp_path: Path) -> None:
    config = tmp_path / "models.config"
    config.write_text(MODELS_CONFIG)
    assert read_version_labels(config, "covertype") == {"canary": 2, "stable": 1}
    assert read_version_labels(config, "missing") == {}


def test_unreadable_or_broken_config_is_reported(tmp_path: Path) -> None:
    with pytest.raises(LabelsUnavailable, match="cannot read"):
        read_version_labels(tmp_path / "absent.config", "covertype")
    broken = tmp_path / "broken.config"
    broken.write_text("model_config_list { config { name: ")
    with pytest.raises(LabelsUnavailable, match="cannot parse"):
        read_version_labels(broken, "covertype")
