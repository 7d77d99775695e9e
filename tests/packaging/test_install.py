"""`make install` leaves the environment ready to start fast."""

import importlib.util
from pathlib import Path

import pytest


@pytest.mark.parametrize("module", ["tensorflow", "keras", "sklearn", "grpc", "fastapi"])
def test_installed_modules_are_compiled_to_bytecode(module: str) -> None:
    """With PYTHONDONTWRITEBYTECODE set, a module without its .pyc is compiled at every start."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    assert Path(importlib.util.cache_from_source(spec.origin)).is_file(), module
