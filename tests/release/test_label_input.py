"""`covertype label` refuses bad input before touching the server, the config or the record."""

from pathlib import Path

import pytest

from covertype.cli import main
from tests.support.ports import free_port


@pytest.mark.parametrize(
    ("label", "version", "message"),
    [
        ("9lives", "1", "label '9lives': must start with a letter"),
        ("can ary", "1", "label 'can ary': must start with a letter"),
        ("canary", "3", "version 3 is not in"),
    ],
)
def test_refused_without_side_effects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], label: str, version: str, message: str
) -> None:
    (tmp_path / "covertype" / "1").mkdir(parents=True)
    unused = f"127.0.0.1:{free_port()}"  # nothing listens: the label is refused before any call

    code = main(["label", label, version, "--models-dir", str(tmp_path), "--tfserving", unused])

    assert code == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "models.config").exists()
    assert not (tmp_path / "covertype.releases.jsonl").exists()


def test_versions_without_a_server_says_unknown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "covertype" / "1").mkdir(parents=True)
    unused = f"127.0.0.1:{free_port()}"

    assert main(["versions", "--models-dir", str(tmp_path), "--tfserving", unused]) == 0

    out = capsys.readouterr().out
    assert out.splitlines()[1].split()[:3] == ["1", "unrecorded", "unknown"]
    assert "not reachable: server states unknown" in out
