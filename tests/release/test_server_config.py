"""models.config handling and the pure choices of which versions must be loaded."""

from pathlib import Path

import pytest

from release import server_config, transition
from release.rollback_plan import RollbackError, plan

CONFIG_TEXT = """
model_config_list {
  config {
    name: "covertype"
    base_path: "/models/covertype"
    model_platform: "tensorflow"
    model_version_policy { latest { num_versions: 2 } }
  }
  config {
    name: "other"
    base_path: "/models/other"
    model_platform: "tensorflow"
  }
}
"""


def test_missing_file_means_the_default_config(tmp_path: Path) -> None:
    config = server_config.load_config(tmp_path / "models.config", tmp_path, "covertype")
    model = server_config.model_config(config, "covertype")
    assert model.base_path == str((tmp_path / "covertype").resolve())
    assert model.model_platform == "tensorflow"
    assert not model.HasField("model_version_policy")


def test_labels_and_policy_change_and_everything_else_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "models.config"
    path.write_text(CONFIG_TEXT)
    config = server_config.load_config(path, tmp_path, "covertype")

    changed = server_config.with_serving(
        config, "covertype", versions={3, 1}, labels={"stable": 1, "canary": 3}
    )
    server_config.save_config(path, changed)
    reread = server_config.load_config(path, tmp_path, "covertype")

    model = server_config.model_config(reread, "covertype")
    assert list(model.model_version_policy.specific.versions) == [1, 3]
    assert server_config.labels_of(reread, "covertype") == {"stable": 1, "canary": 3}
    assert model.base_path == "/models/covertype"
    other = server_config.model_config(reread, "other")
    assert other.base_path == "/models/other" and not other.version_labels
    # the original message is untouched
    assert server_config.labels_of(config, "covertype") == {}
    assert [p.name for p in tmp_path.iterdir()] == ["models.config"]


@pytest.mark.parametrize(
    ("text", "message"),
    [("model_config_list { config { nme: 1 } }", "cannot parse"), ("", "no model named")],
)
def test_bad_files_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "models.config"
    path.write_text(text)
    with pytest.raises(server_config.ConfigError, match=message):
        server_config.load_config(path, tmp_path, "covertype")


def test_final_config_without_labels_keeps_the_policy(tmp_path: Path) -> None:
    path = tmp_path / "models.config"
    path.write_text(CONFIG_TEXT)
    config = server_config.load_config(path, tmp_path, "covertype")
    final, required = transition.final_config(config, "covertype", {}, 4)
    assert server_config.model_config(final, "covertype").model_version_policy.latest.num_versions
    assert required == {4}


def test_final_config_with_labels_lists_labelled_and_newest() -> None:
    config = server_config.default_config(Path("models"), "covertype")
    final, required = transition.final_config(config, "covertype", {"stable": 2, "canary": 3}, 5)
    model = server_config.model_config(final, "covertype")
    assert list(model.model_version_policy.specific.versions) == [2, 3, 5]
    assert required == {2, 3, 5}
    assert dict(model.version_labels) == {"stable": 2, "canary": 3}


def test_final_config_with_the_all_policy_keeps_it() -> None:
    config = server_config.default_config(Path("models"), "covertype")
    server_config.model_config(config, "covertype").model_version_policy.all.SetInParent()
    final, required = transition.final_config(config, "covertype", {"stable": 2}, 5)
    assert server_config.model_config(final, "covertype").model_version_policy.HasField("all")
    assert required == {2, 5}


def test_rollback_plan() -> None:
    assert plan([1, 2, 3], None) == (2, [3])
    assert plan([1, 2, 3, 4], 2) == (2, [3, 4])
    with pytest.raises(RollbackError, match="only version"):
        plan([1], None)
    with pytest.raises(RollbackError, match="no version"):
        plan([], None)
    with pytest.raises(RollbackError, match="already the newest"):
        plan([1, 2], 2)
    with pytest.raises(RollbackError, match="not in the base path"):
        plan([1, 2], 7)
