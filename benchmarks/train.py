"""Training benchmark: float vs PTQ vs QAT (overall and per stratum), onnxruntime INT8.

* Sample workspace: the models train on its split's train part and are selected on its
  validation part; they are evaluated on 120 fresh recordings of the same physical model
  (``core.model.samples``: every tag value covered, thousands of frames / hundreds of
  8-frame windows) — the workspace's own test part holds only a handful of recordings, so its
  figures are printed too but decide nothing. Three training seeds, mean ± spread.
* Harder setting: the real ESP32 fan recordings (``../shared/data/fan-vibration``, all
  speeds, time-ordered 60/20/20 blocks per speed and state) where 5 % of the *training*
  windows carry a short handling knock (≈ 3.8 g for 3 samples). MinMax calibration stretches
  the input range to cover the knocks (×8), so PTQ loses resolution where the anomaly is
  subtle (high speed); QAT learns the ranges back.

Needs the ``fieldbench[train]`` extra. ``python benchmarks/train.py`` (``--quick``: one seed).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.model.calibration import EvalSet  # noqa: E402
from core.sample import ensure_sample_workspace  # noqa: E402
from core.train.config import TrainConfig  # noqa: E402

MIN_STRATUM_ROWS = 20
SEEDS = (0, 1, 2)
#: The sample workspace's models (family, hyper-parameters).
SAMPLE_AE = TrainConfig(family="dense_ae", hidden=(16, 4, 16))
SAMPLE_CNN = TrainConfig(family="conv1d", channels=12)
#: The harder setting: knocks in 5 % of the real fan's training windows.
KNOCK_SHARE, KNOCK_G = 0.05, 3.8
FAN_AE = TrainConfig(family="dense_ae", hidden=(16, 6, 16))


def held_out_set(task: str) -> EvalSet:
    """120 fresh recordings of the sample workspace's physical model (all tag values)."""
    from core.model.samples import sample_anomaly_set, sample_classifier_set

    return sample_anomaly_set(120, 101) if task == "anomaly" else sample_classifier_set(120, 202)


def knocked_fan_sets(
    share: float = KNOCK_SHARE, amplitude_g: float = KNOCK_G, seed: int = 5
) -> tuple[EvalSet, EvalSet, EvalSet]:
    """The real fan windows (``FAN_FEATURES``, speeds low/medium/high, label 1 = imbalance) in
    time-ordered 60/20/20 blocks per speed and state; ``share`` of the training windows get a
    3-sample knock of ``amplitude_g`` (random sign per axis). Validation and test stay clean."""
    from core.dsp.fixed import extract_segments
    from core.dsp.plan import compile_plan
    from core.model.samples import FAN_FEATURES, FAN_FILES, INPUT_SCALE, default_fan_dir

    plan = compile_plan(FAN_FEATURES)
    rng = np.random.default_rng(seed)
    parts: dict[str, list[tuple[np.ndarray, int, str]]] = {"train": [], "val": [], "test": []}
    for (speed, label), fname in FAN_FILES.items():
        if speed == "off":
            continue
        with np.load(default_fan_dir() / fname, allow_pickle=False) as z:
            x = np.asarray(z["X"], dtype=np.float64)
        n = x.shape[0]
        a, b = int(0.6 * n), int(0.8 * n)
        for part, w in (("train", x[:a].copy()), ("val", x[a:b]), ("test", x[b:])):
            if part == "train":
                for i in np.flatnonzero(rng.random(w.shape[0]) < share):
                    s = int(rng.integers(0, w.shape[1] - 3))
                    sign = rng.choice([-1.0, 1.0], size=(1, 3))
                    w[i, s : s + 3, :] += amplitude_g * sign * np.array([1.0, 0.8, 0.6])
            q = np.clip(np.rint(w * FAN_FEATURES.fixedPointScale), -32768, 32767).astype(np.int16)
            seg = np.ascontiguousarray(q.transpose(0, 2, 1)[:, :, : FAN_FEATURES.segment_length])
            parts[part].append((extract_segments(seg, plan), label, speed))
    out = []
    for items in parts.values():
        feats = np.concatenate([f for f, _, _ in items]).astype(np.int16)
        labels = np.concatenate([np.full(f.shape[0], lab) for f, lab, _ in items])
        tags = [{"speed": sp} for f, _, sp in items for _ in range(f.shape[0])]
        out.append(
            EvalSet(feats, INPUT_SCALE, labels.astype(np.int64), tags, ["normal", "imbalance"])
        )
    return out[0], out[1], out[2]


def _train(root: Path, features: Any, cfg: TrainConfig, data: Any) -> tuple[Any, float]:
    from core.train.pipeline import run_training

    t0 = time.perf_counter()
    result = run_training(root, features, cfg, data=data)
    return result, time.perf_counter() - t0


def _pm(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def _seed_summary(results: list[Any]) -> list[str]:
    """Overall float / PTQ / QAT over seeds; strata where PTQ loses ≥ 0.5 point on average and
    how much of it QAT recovers."""
    rows = [r.table["overall"] for r in results]
    f, p, q = ([float(r[k]) for r in rows] for k in ("float", "ptq", "qat"))
    key = results[0].table["metric"]
    lines = [
        f"over {len(results)} seed(s): float {key} {_pm(f)}, PTQ {_pm(p)}, QAT {_pm(q)}; "
        f"PTQ − float {_pm([b - a for a, b in zip(f, p, strict=True)])}, "
        f"QAT − PTQ {_pm([b - a for a, b in zip(p, q, strict=True)])}"
    ]
    by_tag: dict[str, list[tuple[float, float, float]]] = {}
    for r in results:
        for s in r.table["strata"]:
            if len(s["tags"]) == 1 and s["n"] >= MIN_STRATUM_ROWS and s["ptq"] is not None:
                name = ", ".join(f"{k}={v}" for k, v in s["tags"].items())
                by_tag.setdefault(name, []).append((s["float"], s["ptq"], s["qat"]))
    for name, vals in sorted(by_tag.items()):
        loss = [a - b for a, b, _ in vals]
        if statistics.mean(loss) >= 0.005:
            gain = [c - b for _, b, c in vals]
            lines.append(
                f"  {name}: PTQ loses {_pm(loss)}, QAT gains {_pm(gain)} "
                f"({statistics.mean(gain) / statistics.mean(loss):.0%} of the loss recovered)"
            )
    return lines


def _print_run(title: str, cfg: TrainConfig, results: list[Any], seconds: list[float]) -> None:
    rec = results[0].record
    print(f"\n### {title}")
    print(
        f"family {cfg.family}, {rec['windows']['train']} train / {rec['windows']['val']} val / "
        f"{rec['windows']['test']} test windows, ≤ {cfg.epochs} float (patience "
        f"{cfg.patience}) + {cfg.qat_epochs} QAT epochs, ranges {cfg.qat_ranges}, "
        f"{statistics.mean(seconds):.1f} s per run; budgets: pool "
        f"{rec['budgets'].get('pool_bytes')} B, flash {rec['budgets'].get('flash_bytes')} B, "
        f"~{rec['budgets'].get('latency_ms', 0):.2f} ms"
    )
    print(f"\nseed {SEEDS[0]}, strata with ≥ {MIN_STRATUM_ROWS} windows:\n")
    print("\n".join(results[0].table_lines(MIN_STRATUM_ROWS)))
    print()
    print("\n".join(_seed_summary(results)))


def sample_workspace(root: Path, seeds: tuple[int, ...]) -> None:
    from core.train.data import load_train_data

    ws = ensure_sample_workspace(root / "sample")
    for base, title in (
        (SAMPLE_AE, "sample workspace — dense autoencoder 16-4-16, AUC"),
        (SAMPLE_CNN, "sample workspace — 1-D CNN, 12 channels, 8 frames, accuracy"),
    ):
        held_out = held_out_set(base.task)
        results, seconds, own = [], [], []
        for seed in seeds:
            cfg = base.replace(seed=seed)
            data = load_train_data(ws.path, ws.features, cfg)
            own_test = data.test
            r, dt = _train(ws.path, ws.features, cfg, data)
            own.append(r.table["overall"])
            data.test = held_out
            r, dt = _train(ws.path, ws.features, cfg, data)
            results.append(r)
            seconds.append(dt)
        _print_run(f"{title} (held-out: 120 fresh recordings)", base, results, seconds)
        print(
            f"  the workspace's own test part ({len(own_test)} windows of "
            f"{len({tuple(sorted(t.items())) for t in own_test.tags})} tag combinations): "
            f"float {_pm([o['float'] for o in own])}, PTQ {_pm([o['ptq'] for o in own])}, "
            f"QAT {_pm([o['qat'] for o in own])}"
        )


def harder_setting(root: Path, seeds: tuple[int, ...]) -> None:
    from core.model.samples import FAN_FEATURES
    from core.train.data import data_from_sets

    try:
        train, val, test = knocked_fan_sets()
    except Exception as exc:  # the real recordings are not installed
        print(f"\n### harder setting skipped: {exc}")
        return
    data = data_from_sets(train, val, test, "anomaly", FAN_FEATURES)
    for mode in ("learned", "ema"):
        results, seconds = [], []
        for seed in seeds:
            cfg = FAN_AE.replace(seed=seed, qat_ranges=mode)
            r, dt = _train(root / "fan", FAN_FEATURES, cfg, data)
            results.append(r)
            seconds.append(dt)
        _print_run(
            f"harder: real fan data, {KNOCK_SHARE:.0%} of training windows with a "
            f"{KNOCK_G} g knock, dense autoencoder 16-6-16, QAT ranges {mode}, AUC",
            FAN_AE.replace(qat_ranges=mode),
            results,
            seconds,
        )


def main(quick: bool = False) -> None:
    from core.train.backend import torch_available

    print("## Training: float vs PTQ vs QAT (onnxruntime INT8, fused kernels)")
    if not torch_available():
        print("skipped: install the fieldbench[train] extra (PyTorch) to run it")
        return
    seeds = SEEDS[:1] if quick else SEEDS
    with tempfile.TemporaryDirectory(prefix="fieldbench-bench-train-") as tmp:
        root = Path(tmp)
        sample_workspace(root, seeds)
        harder_setting(root, seeds)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
