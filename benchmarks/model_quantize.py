"""Quantize + full validation of the sample autoencoder on 10,000 windows (goal ≤ 30 s), and the
real fan recordings' AUC per speed, float and INT8, with the first and the tuned features."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.model import samples  # noqa: E402
from core.model.calibration import CalibrationMethod  # noqa: E402
from core.model.quantize import QuantizeOptions  # noqa: E402
from core.model.report import QuantizationJob, run_job  # noqa: E402

WINDOWS = 10_000


def main() -> None:
    print("== model quantization: quantize + full validation (sample autoencoder) ==")
    t0 = time.perf_counter()
    data = samples.sample_anomaly_set(n_recordings=440, seed=303)
    data = data.subset(range(min(WINDOWS, len(data))))
    t_data = time.perf_counter() - t0
    model = ROOT / "resources" / "models" / f"{samples.AUTOENCODER_NAME}.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        for method in (CalibrationMethod.MINMAX, CalibrationMethod.ENTROPY):
            job = QuantizationJob(model, data, Path(tmp) / "q.onnx", QuantizeOptions(method=method))
            t1 = time.perf_counter()
            result = run_job(job)
            elapsed = time.perf_counter() - t1
            o = result.report.overall
            print(
                f"{method.value:>8}: {len(data)} windows, {elapsed:.2f} s "
                f"(goal ≤ 30 s); AUC float {o['float']['auc']:.4f} int8 {o['int8']['auc']:.4f}; "
                f"{len(result.report.flags)} flag(s)"
            )
    print(f"(feature windows generated in {t_data:.2f} s, not counted)")
    real_fan()


def real_fan() -> None:
    """Float and INT8 AUC per fan speed on the real recordings, before/after the features."""
    import numpy as np
    import onnx

    from core.model.budget import fe_pool_bytes

    print("== model quantization: real fan recordings, AUC per speed (float / INT8) ==")
    if not (samples.default_fan_dir() / "fan_0_low_0_weight.npz").is_file():
        print(f"skipped: recordings not found at {samples.default_fan_dir()}")
        return
    for label, features in (("before", samples.FAN_FEATURES_V1), ("after", samples.FAN_FEATURES)):
        ds = samples.fan_vibration_set(features=features)
        rng = np.random.default_rng(0)
        normal = np.flatnonzero(ds.labels == 0)
        rng.shuffle(normal)
        train = normal[: normal.size // 2]
        test = np.setdiff1d(np.arange(len(ds)), train)
        x = ds.subset(train).inputs()[:, 0].astype(np.float64)
        net = samples.train_autoencoder(x, hidden=samples.FAN_AE_HIDDEN, epochs=80, seed=0)
        with tempfile.TemporaryDirectory() as tmp:
            model = Path(tmp) / "fan_real_ae.onnx"
            onnx.save(samples.autoencoder_onnx(net, "fan_real_ae"), str(model))
            job = QuantizationJob(
                model, ds.subset(test), Path(tmp) / "q.onnx", calibration=ds.subset(train)
            )
            report = run_job(job).report
        per = {s["tags"]["speed"]: s for s in report.strata if list(s["tags"]) == ["speed"]}
        cells = "  ".join(
            f"{k} {per[k]['float']['auc']:.4f} / {per[k]['int8']['auc']:.4f}"
            for k in ("low", "medium", "high")
        )
        b = report.budgets
        print(
            f"{label:>6}: {features.frame_length} features, {features.bands.count} "
            f"{features.window} bands, FFT {features.fft_size}: {cells}; "
            f"arena {b.get('arena_bytes')} B + front-end {fe_pool_bytes(features)} B, "
            f"{b.get('macs')} MACs"
        )


if __name__ == "__main__":
    main()
