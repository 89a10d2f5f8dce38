"""The sample workspace: copied from resources/ on first use, recordings generated into it.

Nothing is copied from real data: every recording comes from ``fan_vibration`` and
``field_recording``, a physical model of a 3-axis MEMS accelerometer (in g) taped to a ceiling
fan, under the conditions the dataset's tags name:

* shaft rotation at ``shaft_hz`` with a 4-blade pass harmonic; an imbalance (mass on one blade)
  grows the once-per-revolution component and its second harmonic;
* **orientation** rotates gravity (1 g) between the sensor axes: horizontal → +z,
  vertical → +x, inverted → −z;
* **temperature** changes the MEMS sensitivity (−0.1 %/°C around 25 °C) and zero-g offset
  (+0.5 mg/°C): cold is −10 °C, ambient 25 °C, hot 60 °C;
* **noise** adds the background: quiet (none), hvac (a 0.01 g band around 20–40 Hz), machinery
  (0.015 g at the 50 Hz mains and its harmonics);
* **age** raises the sensor's white noise (new 0.005 g, aged 0.008 g, worn 0.012 g rms) and adds a
  bias drift to a worn part.

The dataset (``dataset/``) is generated on first use with fixed seeds and deliberate gaps: no
recording at hot + inverted, no imbalance at cold, a single normal recording at cold + vertical.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.atomic import atomic_open, atomic_save_npy, atomic_write_text
from core.paths import resources_dir, user_data_dir
from core.workspace import CONFIG_NAME, Workspace

log = logging.getLogger("fieldbench")

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


TEMPERATURE_C = {"cold": -10.0, "ambient": 25.0, "hot": 60.0}
GRAVITY_AXIS = {"horizontal": (2, 1.0), "vertical": (0, 1.0), "inverted": (2, -1.0)}
SENSOR_NOISE_G = {"new": 0.005, "aged": 0.008, "worn": 0.012}
SPEED_HZ = {"low": 3.0, "medium": 4.5, "high": 6.0}
DATASET_SECONDS = 2.0


def field_recording(
    *,
    shaft_hz: float,
    imbalance: float,
    temperature: str = "ambient",
    orientation: str = "horizontal",
    noise: str = "quiet",
    age: str = "new",
    seconds: float = DATASET_SECONDS,
    seed: int = 0,
) -> npt.NDArray[np.float64]:
    """3-axis acceleration (g) of the fan under the tagged conditions (see the module doc)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    x = np.zeros((n, 3))
    if shaft_hz > 0:
        phase0 = rng.uniform(0, 2 * np.pi)
        for c, phase in enumerate((0.0, np.pi / 2, np.pi / 4)):
            w = 2 * np.pi * shaft_hz * t + phase0 + phase
            x[:, c] += (0.02 + imbalance) * np.sin(w) + 0.5 * imbalance * np.sin(2 * w + phase)
            x[:, c] += 0.05 * np.sin(4 * w)
    axis, sign = GRAVITY_AXIS[orientation]
    x[:, axis] += sign * 1.0
    if noise == "hvac":
        band = rng.standard_normal(n)
        spectrum = np.fft.rfft(band)
        freqs = np.fft.rfftfreq(n, 1 / RATE)
        spectrum[(freqs < 20) | (freqs > 40)] = 0
        hum = np.fft.irfft(spectrum, n)
        x += 0.01 * (hum / (hum.std() or 1.0))[:, None] * np.array([1.0, 0.7, 0.4])
    elif noise == "machinery":
        for k, a in ((1, 0.015), (2, 0.008), (3, 0.004)):
            x += a * np.sin(2 * np.pi * 50 * k * t + rng.uniform(0, 2 * np.pi))[:, None]
    x += SENSOR_NOISE_G[age] * rng.standard_normal((n, 3))
    if age == "worn":
        x += np.linspace(0, 0.01, n)[:, None]
    dt = TEMPERATURE_C[temperature] - 25.0
    return x * (1 - 0.001 * dt) + 0.0005 * dt


def sample_plan() -> list[dict[str, str | int]]:
    """The sample dataset's recordings: conditions, label, session, seed (deterministic)."""
    plan: list[dict[str, str | int]] = []
    noises, ages, speeds = ("quiet", "hvac", "machinery"), tuple(SENSOR_NOISE_G), tuple(SPEED_HZ)
    session = 0
    k = 0
    for temperature in TEMPERATURE_C:
        for orientation in GRAVITY_AXIS:
            if (temperature, orientation) == ("hot", "inverted"):
                continue  # a deliberate gap: never recorded
            session += 1
            for label in ("normal", "imbalance"):
                if label == "imbalance" and temperature == "cold":
                    continue  # a deliberate gap
                count = 3 if (temperature, orientation) == ("ambient", "horizontal") else 2
                if (temperature, orientation, label) == ("cold", "vertical", "normal"):
                    count = 1  # below the target of two
                for _ in range(count):
                    plan.append(
                        {
                            "label": label,
                            "temperature": temperature,
                            "orientation": orientation,
                            "noise": noises[k % 3],
                            "age": ages[(k // 3) % 3],
                            "speed": speeds[(k // 2) % 3],
                            "session": session,
                            "seed": 100 + k,
                        }
                    )
                    k += 1
    session += 1
    for j, noise in enumerate(noises):
        plan.append(
            {
                "label": "background",
                "temperature": "ambient",
                "orientation": "horizontal",
                "noise": noise,
                "age": "new",
                "speed": "off",
                "session": session,
                "seed": 900 + j,
            }
        )
    return plan


def generate_sample_dataset(root: Path) -> int:
    """Fill ``root``'s dataset with the sample plan (one transaction); returns the count."""
    from core.dataset import CaptureQuality, Dataset

    plan = sample_plan()
    with Dataset.open(root) as ds, ds.transaction():
        if ds.count():
            return 0
        sessions = {int(p["session"]) for p in plan}
        for _ in sessions:
            ds.new_session()
        for p in plan:
            speed = str(p["speed"])
            x = field_recording(
                shaft_hz=SPEED_HZ.get(speed, 0.0),
                imbalance=0.08 if p["label"] == "imbalance" else 0.0,
                temperature=str(p["temperature"]),
                orientation=str(p["orientation"]),
                noise=str(p["noise"]),
                age=str(p["age"]),
                seed=int(p["seed"]),
            )
            counts = np.clip(np.rint(x * 8000), -32768, 32767).astype(np.int16)
            tags = {k: str(p[k]) for k in ("temperature", "orientation", "noise", "age", "speed")}
            n = counts.shape[0]
            ds.add_recording(
                counts,
                label=str(p["label"]),
                tags=tags,
                sample_rate=float(RATE),
                channel_names=("accX", "accY", "accZ"),
                units="g",
                fixed_point_scale=8000.0,
                session=int(p["session"]),
                device_id="sample-node-1",
                source="sample",
                quality=CaptureQuality(
                    frames_received=n // 32,
                    declared_rate_hz=float(RATE),
                    measured_rate_hz=float(RATE),
                    jitter_ms=0.0,
                ),
            )
    return len(plan)


#: Written beside the sample's fieldbench.toml: the hash of the config it was made from.
SAMPLE_MARKER = ".fieldbench-sample"


def ensure_sample_workspace(dest: Path | None = None) -> Workspace:
    """Return the sample workspace, creating it (and its recordings) when missing."""
    target = dest or user_data_dir() / "sample-workspace"
    source = resources_dir() / "sample-workspace" / CONFIG_NAME
    version = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    marker = target / SAMPLE_MARKER
    if (target / CONFIG_NAME).exists() and (
        not marker.exists() or marker.read_text(encoding="utf-8").strip() != version
    ):
        # A sample made by an older Fieldbench: its config and dataset no longer match what
        # this version generates (tags, features), so it is rebuilt. It is a playground —
        # users keep their own work in their own workspaces.
        log.info("sample workspace %s is from another version: rebuilding it", target)
        (target / CONFIG_NAME).unlink()
        shutil.rmtree(target / "dataset", ignore_errors=True)
    if not (target / CONFIG_NAME).exists():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target / CONFIG_NAME)
        atomic_write_text(marker, version + "\n")
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
    if not (target / "dataset" / "catalog.sqlite").exists():
        generate_sample_dataset(target)
        _save_sample_split(target)
    return Workspace.open(target)


#: The split the sample models are trained on (train part) and validated on (val, test).
SAMPLE_SPLIT_NAME = "sample-models"
SAMPLE_SPLIT_SEED = 7
SAMPLE_SPLIT_FRACTIONS = (0.6, 0.2, 0.2)


def _save_sample_split(root: Path) -> None:
    from core.dataset.splits import make_split
    from core.dataset.store import Dataset

    with Dataset.open(root) as ds:
        make_split(
            ds, fractions=SAMPLE_SPLIT_FRACTIONS, seed=SAMPLE_SPLIT_SEED, name=SAMPLE_SPLIT_NAME
        )


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
