"""Shared fixtures for the training tests: a fresh sample workspace per test."""

from __future__ import annotations

import pytest

from core.sample import ensure_sample_workspace
from core.workspace import Workspace


@pytest.fixture
def sample_ws(tmp_path) -> Workspace:
    return ensure_sample_workspace(tmp_path / "ws")
