"""Helpers that start the project's real servers as subprocesses for tests."""

from tests.support.ports import free_port

__all__ = ["free_port"]
