"""Numpy INT8 executor throughput next to onnxruntime's on the same quantized models."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.model import executor as ex
from core.model import testmodels as tm
from core.model.extract import extract

N = 10_000


def _best(fn: object, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    print("== INT8 numpy executor vs onnxruntime (ORT_ENABLE_EXTENDED, 1 thread, batch 10,000) ==")
    print(f"{'model':12s} {'MACs':>8s} {'numpy inf/s':>12s} {'ORT inf/s':>12s} {'ratio':>7s}")
    for name in ("mlp", "autoencoder", "conv1d", "dscnn1d", "addpool"):
        float_model = tm.BUILDERS[name](batch="N")
        qdq = tm.quantize_qdq(float_model, tm.test_inputs(float_model, 128, seed=1))
        model = extract(qdq, input_scale=1 / 256, name=name)
        x = tm.test_inputs(qdq, N, seed=2)
        sess = tm.ort_session(qdq)
        ex.run_float(model, x[:100])  # warm-up (tables, caches)
        t_np = _best(lambda m=model, x=x: ex.run_float(m, x))
        t_ort = _best(lambda s=sess, x=x: tm.ort_run(s, x))
        a, b = N / t_np, N / t_ort
        print(f"{name:12s} {model.macs():8d} {a:12,.0f} {b:12,.0f} {a / b:7.2f}")


if __name__ == "__main__":
    main()
