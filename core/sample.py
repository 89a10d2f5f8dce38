"""The sample workspace: copied from resources/ on first use, recordings generated into it."""

from __future__ import annotations

import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.atomic import atomic_open, atomic_save_npy, atomic_write_text
from core.paths import resources_dir, user_data_dir
from core.workspace import CONFIG_NAME, Workspace

RATE = 1600
SECONDS = 20


def fan_vibration(
    shaft_hz: float, imbalance: float, seconds: float = SECONDS, seed: int = 0
) -> npt.NDArray[np.float64]:
    """3-axis acceleration in g of a fan: shaft rate, blade-pass harmonic, imbalance, noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    x = np.empty((t.size, 3))
    blade = 0.05 * np.sin(2 * np.pi * 4 * shaft_hz * t)
    for c, phase in enumerate((0.0, np.pi / 2, np.pi / 4)):
        shaft = (0.02 + imbalance) * np.sin(2 * np.pi * shaft_hz * t + phase)
        harmonic = 0.5 * imbalance * np.sin(2 * np.pi * 2 * shaft_hz * t + 2 * phase)
        x[:, c] = shaft + harmonic + blade + 0.01 * rng.standard_normal(t.size)
    x[:, 1] += 0.2
    x[:, 2] += 1.0  # gravity
    return x


def ensure_sample_workspace(dest: Path | None = None) -> Workspace:
    """Return the sample workspace, creating it (and its recordings) when missing."""
    target = dest or user_data_dir() / "sample-workspace"
    if not (target / CONFIG_NAME).exists():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(resources_dir() / "sample-workspace" / CONFIG_NAME, target / CONFIG_NAME)
    rec = target / "recordings"
    rec.mkdir(exist_ok=True)
    files: dict[str, Callable[[Path], None]] = {
        "fan_low_normal.csv": lambda p: _write_csv(p, fan_vibration(3.0, 0.0, seed=1)),
        "fan_high_imbalance.npy": lambda p: atomic_save_npy(p, fan_vibration(6.0, 0.08, seed=2)),
        "fan_medium_normal.wav": lambda p: _write_wav(p, fan_vibration(4.5, 0.0, seed=3)),
    }
    for name, write in files.items():
        if not (rec / name).exists():
            write(rec / name)
    return Workspace.open(target)


def _write_csv(path: Path, x: npt.NDArray[np.float64]) -> None:
    """Edge Impulse style: a millisecond ``timestamp`` column first."""
    lines = ["timestamp,accX,accY,accZ"]
    stamps = np.arange(x.shape[0]) * 1000.0 / RATE
    lines += [f"{t:.3f},{a:.5f},{b:.5f},{c:.5f}" for t, (a, b, c) in zip(stamps, x, strict=True)]
    atomic_write_text(path, "\n".join(lines) + "\n")


def _write_wav(path: Path, x: npt.NDArray[np.float64]) -> None:
    """16-bit PCM in counts of 1/8000 g (the workspace's fixedPointScale)."""
    pcm = np.clip(np.rint(x * 8000), -32768, 32767).astype("<i2").tobytes()
    ch = x.shape[1]
    header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, ch, RATE, RATE * 2 * ch, 2 * ch, 16)
    header += b"data" + struct.pack("<I", len(pcm))
    with atomic_open(path, "wb") as handle:
        handle.write(header + pcm)
