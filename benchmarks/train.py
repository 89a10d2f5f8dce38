"""Training benchmark: float vs PTQ vs QAT (overall and per stratum) on the sample workspace and
on a harder setting (a larger, noisier synthetic dataset and a smaller model).

Needs the ``fieldbench[train]`` extra. Prints Markdown tables; run ``python benchmarks/train.py``
(``--quick`` for fewer epochs).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.dataset import CaptureQuality, Dataset  # noqa: E402
from core.sample import (  # noqa: E402
    GRAVITY_AXIS,
    SPEED_HZ,
    TEMPERATURE_C,
    ensure_sample_workspace,
    field_recording,
)
from core.train.config import TrainConfig  # noqa: E402
from core.workspace import Workspace  # noqa: E402

MIN_STRATUM_ROWS = 20


def noisy_workspace(
    root: Path, sessions_per_cell: int = 3, extra_noise_g: float = 0.03
) -> Workspace:
    """A bigger dataset than the sample's, with heavy extra sensor noise on every recording."""
    sample = ensure_sample_workspace(root / "sample-source")
    ws = Workspace.create(root / "noisy", "noisy fan", sample.features)
    ws.set_dataset(sample.dataset)
    rng = np.random.default_rng(11)
    noises, ages, speeds = ("quiet", "hvac", "machinery"), ("new", "aged", "worn"), tuple(SPEED_HZ)
    k = 0
    with Dataset.open(ws.path) as ds, ds.transaction():
        for temperature in TEMPERATURE_C:
            for orientation in GRAVITY_AXIS:
                for _ in range(sessions_per_cell):
                    session = ds.new_session()
                    for label in ("normal", "normal", "imbalance"):
                        tags = {
                            "temperature": temperature,
                            "orientation": orientation,
                            "noise": noises[k % 3],
                            "age": ages[(k // 3) % 3],
                            "speed": speeds[(k // 2) % 3],
                        }
                        x = field_recording(
                            shaft_hz=SPEED_HZ[tags["speed"]],
                            imbalance=0.05 if label == "imbalance" else 0.0,
                            temperature=temperature,
                            orientation=orientation,
                            noise=tags["noise"],
                            age=tags["age"],
                            seconds=3.0,
                            seed=5000 + k,
                        )
                        x += extra_noise_g * rng.standard_normal(x.shape)
                        _add(ds, x, label, tags, session)
                        k += 1
        session = ds.new_session()
        for j, noise in enumerate(noises):
            x = field_recording(shaft_hz=0.0, imbalance=0.0, noise=noise, seed=9000 + j)
            tags = {
                "temperature": "ambient",
                "orientation": "horizontal",
                "noise": noise,
                "age": "new",
                "speed": "off",
            }
            _add(ds, x, "background", tags, session)
    return Workspace.open(ws.path)


def _add(ds: Dataset, x: np.ndarray, label: str, tags: dict[str, str], session: int) -> None:
    counts = np.clip(np.rint(x * 8000), -32768, 32767).astype(np.int16)
    ds.add_recording(
        counts,
        label=label,
        tags=tags,
        sample_rate=1600.0,
        channel_names=("accX", "accY", "accZ"),
        units="g",
        fixed_point_scale=8000.0,
        session=session,
        source="benchmark",
        quality=CaptureQuality(frames_received=counts.shape[0] // 32),
    )


def run(ws: Workspace, cfg: TrainConfig, title: str) -> None:
    from core.train.pipeline import run_training

    t0 = time.perf_counter()
    result = run_training(ws.path, ws.features, cfg)
    dt = time.perf_counter() - t0
    rec = result.record
    print(f"\n### {title}")
    print(
        f"family {cfg.family}, {rec['windows']['train']} train / {rec['windows']['val']} val / "
        f"{rec['windows']['test']} test windows, {cfg.epochs} float + {cfg.qat_epochs} QAT "
        f"epochs, {dt:.1f} s; budgets: pool {rec['budgets'].get('pool_bytes')} B, "
        f"flash {rec['budgets'].get('flash_bytes')} B, "
        f"~{rec['budgets'].get('latency_ms', 0):.2f} ms"
    )
    print(f"(strata with ≥ {MIN_STRATUM_ROWS} windows)\n")
    print("\n".join(result.table_lines(MIN_STRATUM_ROWS)))


def main(quick: bool = False) -> None:
    from core.train.backend import torch_available

    print("## Training: float vs PTQ vs QAT (onnxruntime INT8, fused kernels)")
    if not torch_available():
        print("skipped: install the fieldbench[train] extra (PyTorch) to run it")
        return
    scale = 4 if quick else 1
    with tempfile.TemporaryDirectory(prefix="fieldbench-bench-train-") as tmp:
        root = Path(tmp)
        sample = ensure_sample_workspace(root / "sample")
        run(
            sample,
            TrainConfig(family="dense_ae", epochs=60 // scale, qat_epochs=15 // scale),
            "sample workspace — dense autoencoder (24-8-24), AUC",
        )
        run(
            sample,
            TrainConfig(family="conv1d", epochs=60 // scale, qat_epochs=15 // scale),
            "sample workspace — 1-D CNN (12 channels), accuracy",
        )
        noisy = noisy_workspace(root)
        run(
            noisy,
            TrainConfig(
                family="dense_ae",
                hidden=(6, 2, 6),
                epochs=60 // scale,
                qat_epochs=15 // scale,
                snr_db=(0.0, 10.0),
            ),
            "harder: noisy dataset, tiny autoencoder (6-2-6), heavy noise augmentation, AUC",
        )
        run(
            noisy,
            TrainConfig(
                family="dscnn",
                channels=4,
                blocks=1,
                epochs=60 // scale,
                qat_epochs=15 // scale,
                snr_db=(0.0, 10.0),
            ),
            "harder: noisy dataset, tiny DS-CNN (4 channels), heavy noise augmentation, accuracy",
        )


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
