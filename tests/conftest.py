"""Shared fixtures: every test runs headless and keeps user files inside tmp."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

from core.dsp.recipes import AUDIO_RECIPE, VIBRATION_RECIPE


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))


AUDIO = AUDIO_RECIPE
VIBRATION = VIBRATION_RECIPE


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
