"""Shared fixtures: every test runs headless and keeps user files inside tmp."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

from core.dsp import BandsConfig, FilterConfig, PreprocessingConfig


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))


AUDIO = PreprocessingConfig(
    sampleRate=16000.0, windowSize=512, hopLength=256, bands=BandsConfig("mel", 40)
)
VIBRATION = PreprocessingConfig(
    sampleRate=1600.0,
    windowSize=256,
    hopLength=128,
    channels=3,
    filter=FilterConfig("highpass", 10.0, 0.7071, 128),
    bands=BandsConfig("linear", 16, 0.0, 800.0),
    stats=("rms", "peak", "crest"),
)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
