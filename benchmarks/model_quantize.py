"""Quantize + full validation of the sample autoencoder on 10,000 windows (goal ≤ 30 s)."""

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


if __name__ == "__main__":
    main()
