"""Fixtures for the device tests: esptool run out of process from a clean environment."""

from __future__ import annotations

import os
import sys

import pytest


@pytest.fixture
def esptool() -> tuple[list[str], dict[str, str]]:
    """The esptool command and an environment without ESPTOOL_* overrides (reference §5)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESPTOOL")}
    return [sys.executable, "-m", "esptool"], env
