"""Each extra installs exactly what its commands import.

For every extra an environment is built from it alone, as the Dockerfiles and
`make install` build theirs (`uv sync --locked` from uv.lock; hardlinks from uv's cache,
so seconds). In it, every module of the packages the extra's commands run is imported,
every top-level name any of them imports (anywhere: handlers import lazily) must be
found, each command answers `--help`, and every distribution the extra declares is
imported by one of those modules, or is listed below with the reason it is not.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")

# extra: (packages its commands run, modules left out, its commands)
# The demo needs every extra; TensorFlow's quiet import is only called by commands that have it.
NEEDS_ALL = ("covertype.demo", "covertype.demo_registry")
WITHOUT_TENSORFLOW = (*NEEDS_ALL, "covertype.tensorflow_logs")
# extra: (packages its commands run, modules left out, its commands)
EXTRAS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "gateway": (("covertype", "gateway", "monitoring", "protos"), WITHOUT_TENSORFLOW,
                ("gateway", "report")),
    "trainer": (("covertype", "trainer", "release", "protos"), NEEDS_ALL,
                ("train", "release", "rollback")),
    "server": (("covertype", "tfserving", "protos"), NEEDS_ALL, ("serve",)),
    "registry": (("covertype", "registry", "protos"), WITHOUT_TENSORFLOW, ("sync", "data")),
    "console": (("covertype", "console", "monitoring", "registry", "protos"), WITHOUT_TENSORFLOW,
                ("console",)),
    "all": (("covertype", "gateway", "monitoring", "protos", "trainer", "release", "tfserving",
             "registry", "console"), (), ("demo",)),
}  # fmt: skip
# Declared but never imported by our code, on purpose.
USED_WITHOUT_IMPORT = {
    "uvloop": "uvicorn runs on it (loop='uvloop')",
    "httptools": "uvicorn's httptools protocol, which covertype/http_protocol.py subclasses",
}

# Runs inside the extra's environment; argv: JSON of packages, left-out modules.
_PROBE = """
import ast, importlib, importlib.metadata, importlib.util, json, pkgutil, sys

packages, left_out = json.loads(sys.argv[1]), set(json.loads(sys.argv[2]))
modules, imported = [], set()
for name in packages:
    package = importlib.import_module(name)
    modules.append(package)
    for info in pkgutil.walk_packages(package.__path__, name + "."):
        if info.name not in left_out and not info.name.startswith(tuple(m + "." for m in left_out)):
            modules.append(importlib.import_module(info.name))
for module in modules:
    tree = ast.parse(open(module.__file__, encoding="utf-8").read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            imported.add(node.module.split(".")[0])
missing = sorted(n for n in imported if importlib.util.find_spec(n) is None)
providers = importlib.metadata.packages_distributions()
used = {d.lower() for name in imported for d in providers.get(name, [])}
print(json.dumps({"modules": len(modules), "missing": missing, "used": sorted(used)}))
"""


def _declared(extra: str) -> set[str]:
    """Distributions `extra` declares directly (covertype[...] expanded); the base install's
    belong to the gateway, whose extra is empty."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    optional = project["optional-dependencies"]
    names: set[str] = set()
    pending = [*(project["dependencies"] if extra == "gateway" else []), *optional[extra]]
    while pending:
        requirement = pending.pop()
        name, _, rest = requirement.partition("[")
        name = name.split(">")[0].split("<")[0].split("=")[0].strip()
        if name == "covertype":
            for sub in rest.split("]")[0].split(","):
                pending.extend(optional[sub])
        else:
            names.add(canonicalize_name(name))
    return names


@pytest.fixture(scope="module")
def environments(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One environment per extra, built from uv.lock with that extra alone."""
    built = {}
    for extra in EXTRAS:
        venv = tmp_path_factory.mktemp(f"extra-{extra}") / "venv"
        extras = [] if extra == "gateway" else ["--extra", extra]
        subprocess.run(
            [UV, "sync", "--locked", "--no-editable", "--quiet", *extras],
            cwd=REPO,
            env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON": sys.executable},
            check=True,
            timeout=600,
        )
        built[extra] = venv
    return built


@pytest.mark.parametrize("extra", EXTRAS)
def test_an_extra_alone_runs_its_commands(extra: str, environments: dict[str, Path]) -> None:
    python = environments[extra] / "bin" / "python"
    packages, left_out, commands = EXTRAS[extra]
    probe = subprocess.run(
        [python, "-c", _PROBE, json.dumps(packages), json.dumps(left_out)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        cwd=environments[extra],
        check=False,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    found = json.loads(probe.stdout.splitlines()[-1])
    assert found["missing"] == [], f"{extra} lacks what its modules import"
    used = {canonicalize_name(name) for name in found["used"]}
    unused = _declared(extra) - used - USED_WITHOUT_IMPORT.keys()
    assert not unused, f"{extra} declares distributions nothing imports: {sorted(unused)}"
    for command in commands:
        answer = subprocess.run(
            [environments[extra] / "bin" / "covertype", command, "--help"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert answer.returncode == 0, answer.stderr[-2000:]


def test_the_gateway_extra_has_no_tensorflow(environments: dict[str, Path]) -> None:
    site = next((environments["gateway"] / "lib").glob("python3*/site-packages"))
    assert not [p.name for p in site.iterdir() if p.name.startswith(("tensorflow", "keras"))]
