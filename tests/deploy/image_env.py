"""Run `covertype` with only the Python packages a Dockerfile puts into its image.

No image can be built here, so the image's Python environment is imitated in this
virtualenv: a Dockerfile copies some of the project's packages and installs the
project with some extras; every other import (the project's packages it does not copy,
and third-party top-level modules outside the dependency closure of those extras) is
refused by a meta path finder, as it would be missing in the image.
"""

import importlib.metadata
import itertools
import json
import shlex
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .manifests import REPO, instructions, venv_tool

PROJECT = "covertype"
PROJECT_PACKAGES = frozenset(
    {
        "console",
        "covertype",
        "gateway",
        "monitoring",
        "protos",
        "registry",
        "release",
        "tfserving",
        "trainer",
    }
)

# Runs in the child interpreter: argv[1] is the JSON list of refused top-level modules,
# the rest is the `covertype` command line.
_PRELUDE = """
import importlib.abc, json, runpy, sys

REFUSED = frozenset(json.loads(sys.argv[1]))


class NotInImage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in REFUSED:
            raise ModuleNotFoundError(f"No module named {top!r} (not in the image)", name=top)
        return None


sys.meta_path.insert(0, NotInImage())
sys.argv = ["covertype", *sys.argv[2:]]
runpy.run_module("covertype.cli", run_name="__main__", alter_sys=True)
"""


def copied_packages(dockerfile: Path) -> set[str]:
    """The project's import packages that the Dockerfile COPYs into its build."""
    copied = set()
    for value in instructions(dockerfile, "COPY"):
        if value.startswith("--from="):
            continue
        *sources, _ = shlex.split(value)
        copied.update(source.rstrip("/") for source in sources)
    return copied & PROJECT_PACKAGES


def sync_command(dockerfile: Path) -> list[str]:
    """The arguments of the Dockerfile's one `uv sync` command."""
    (run,) = [run for run in instructions(dockerfile, "RUN") if "uv sync" in run]
    words = shlex.split(run)
    return words[words.index("sync") + 1 :]


def installed_extras(dockerfile: Path) -> set[str]:
    """The extras of the project that the Dockerfile's `uv sync` installs."""
    return _extras(sync_command(dockerfile))


def _extras(sync_arguments: Sequence[str]) -> set[str]:
    return {value for flag, value in itertools.pairwise(sync_arguments) if flag == "--extra"}


def locked_distributions(sync_arguments: Sequence[str]) -> set[str]:
    """Canonical names of what `uv sync <sync_arguments>` installs from uv.lock (no project)."""
    extras = [f"--extra={value}" for value in _extras(sync_arguments)]
    exported = subprocess.run(
        [venv_tool("uv"), "export", "--locked", "--no-emit-project", "--no-hashes", *extras],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = (line.split(";")[0].strip() for line in exported.splitlines())
    return {canonicalize_name(line.split("==")[0]) for line in lines if "==" in line}


def dependency_closure(distribution: str, extras: Iterable[str]) -> set[str]:
    """Canonical names of every distribution that installing `distribution[extras]` pulls in."""
    visited: set[tuple[str, str]] = set()  # (distribution, extra); "" is the base install
    pending = [(distribution, extra) for extra in {"", *extras}]
    while pending:
        name, extra = pending.pop()
        if (canonicalize_name(name), extra) in visited:
            continue
        visited.add((canonicalize_name(name), extra))
        for text in importlib.metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
                pending.extend((requirement.name, sub) for sub in {"", *requirement.extras})
    return {name for name, _ in visited}


def refused_modules(dockerfile: Path) -> set[str]:
    """Top-level modules importable here that the Dockerfile's image would not have."""
    allowed = dependency_closure(PROJECT, installed_extras(dockerfile))
    refused = set(PROJECT_PACKAGES - copied_packages(dockerfile))
    for module, distributions in importlib.metadata.packages_distributions().items():
        if module in PROJECT_PACKAGES or module in sys.stdlib_module_names:
            continue
        # A namespace shared with an allowed distribution (google.*) stays importable.
        if not {canonicalize_name(d) for d in distributions} & allowed:
            refused.add(module)
    return refused


def image_command(dockerfile: Path, arguments: Sequence[str]) -> list[str]:
    """`covertype *arguments` as it would run with the image's packages only."""
    refused = json.dumps(sorted(refused_modules(dockerfile)))
    return [sys.executable, "-c", _PRELUDE, refused, *arguments]
