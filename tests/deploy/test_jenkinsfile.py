"""The Jenkinsfile: each stage is a Makefile target that exists, and a gate halt stops it.

No Jenkins runs here: the declarative pipeline is read as text (its stages and the `make`
commands of their `sh` steps), each target is resolved by make itself, and the release
status that the Release stage reads is produced by a real `make release`.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.gateway import RunningGateway, start_gateway
from tests.support.ports import free_port

from .manifests import COMPOSE_FILE, COMPOSE_REGISTRY_FILE, REPO, load_yaml, merge_services

JENKINSFILE = REPO / "Jenkinsfile"
MAKEFILE = REPO / "Makefile"
# The stages issue 12 asks for, each one Makefile target.
EXPECTED_STAGES = {"Test": "test", "Images": "images", "Release": "release", "Verify": "verify"}


def stages() -> dict[str, str]:
    """Stage name -> its text, in the Jenkinsfile's order."""
    text = JENKINSFILE.read_text(encoding="utf-8")
    starts = [(m.start(), m.group(1)) for m in re.finditer(r"stage\('([^']+)'\)\s*\{", text)]
    ends = [start for start, _ in starts[1:]] + [len(text)]
    return {name: text[start:end] for (start, name), end in zip(starts, ends, strict=True)}


def make_targets(stage_text: str) -> list[str]:
    """The targets of every `make X` run by the stage's `sh` steps."""
    return re.findall(r"sh[ (](?:script:\s*)?'make ([\w-]+)'", stage_text)


def release_status_path() -> str:
    (path,) = re.findall(r"^RELEASE_STATUS \?= (\S+)$", MAKEFILE.read_text(), re.M)
    return path


def make(*arguments: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "MAKEFLAGS": ""},
        check=False,
    )


def test_stages_are_the_makefile_targets_in_order() -> None:
    found = {name: make_targets(text) for name, text in stages().items()}
    assert list(found) == list(EXPECTED_STAGES)
    assert found == {name: [target] for name, target in EXPECTED_STAGES.items()}


@pytest.mark.parametrize("target", EXPECTED_STAGES.values())
def test_every_stage_target_exists_in_the_makefile(target: str) -> None:
    result = make("-n", target)
    assert result.returncode == 0, result.stderr
    assert "No rule to make target" not in result.stderr


def test_images_target_builds_every_compose_image_with_its_tag() -> None:
    services = merge_services(
        load_yaml(COMPOSE_FILE)["services"], load_yaml(COMPOSE_REGISTRY_FILE)["services"]
    )
    tags = {s["build"]["dockerfile"]: s["image"] for s in services.values() if "build" in s}
    builds = re.findall(r"^docker build -f (\S+) -t (\S+) \.$", make("-n", "images").stdout, re.M)
    assert dict(builds) == tags


def test_release_stage_halts_on_the_gates_exit_code() -> None:
    release = stages()["Release"]
    path = release_status_path()
    assert f"readFile('{path}')" in release and f"fileExists('{path}')" in release
    assert "returnStatus: true" in release
    # exit code 3 (release.pipeline.ExitCode.HALTED) and any other failure end the run.
    (halted,) = re.findall(r"if \(code == '(\d+)'\) \{\s*error\(", release)
    from release.pipeline import ExitCode

    assert int(halted) == ExitCode.HALTED
    assert re.search(r"if \(status != 0\) \{\s*error\(", release)


def test_make_release_records_covertype_releases_own_exit_code(tmp_path: Path) -> None:
    """make exits 2 for any failure; the status file has covertype release's code."""
    status = tmp_path / "status"
    nothing = f"127.0.0.1:{free_port()}"
    flags = f"--models-dir {tmp_path / 'models'} --tfserving {nothing} --gateway http://{nothing}"
    result = make(f"RELEASE_STATUS={status}", f"RELEASE_FLAGS={flags}", "release")
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    # No model server answers: the preflight fails, exit 1 (failed), not 3 (halted).
    assert status.read_text().strip() == "1", result.stdout[-2000:]
    assert "exit code : 1 (failed)" in result.stdout


def verify_script(*flags: str) -> subprocess.CompletedProcess[str]:
    """deploy/ci/verify_live.py, which `make verify` runs, with a short timeout."""
    return subprocess.run(
        [sys.executable, "-P", str(REPO / "deploy" / "ci" / "verify_live.py"), *flags],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_make_verify_passes_when_every_answer_names_the_live_version(
    gateway: RunningGateway,
) -> None:
    result = make(f"GATEWAY={gateway.url}", "verify")
    assert result.returncode == 0, result.stderr
    assert f"answers through {gateway.url}, all from version 1" in result.stdout


def test_verify_fails_for_a_version_that_is_not_live(gateway: RunningGateway) -> None:
    result = verify_script(f"--gateway={gateway.url}", "--version=2", "--timeout=2")
    assert result.returncode == 1
    assert "expected every answer from version 2, got {1: 20}" in result.stderr


def test_verify_fails_while_the_model_server_is_down() -> None:
    with start_gateway(f"127.0.0.1:{free_port()}") as lonely:
        result = verify_script(f"--gateway={lonely.url}", "--timeout=2")
    assert result.returncode == 1
    assert "verify: not live after 2 s" in result.stderr
