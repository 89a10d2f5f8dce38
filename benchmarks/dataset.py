"""Dataset catalog figures: filter and coverage over 100 000 recordings (target < 50 ms each).

The catalog is built synthetically (rows only, no payloads) in a temporary workspace: random
tags over the four built-in axes, two labels, sessions of ten recordings.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.dataset import Dataset  # noqa: E402
from core.dataset.coverage import coverage_matrix  # noqa: E402
from core.dataset.splits import make_split  # noqa: E402
from core.dataset.store import canonical_tags  # noqa: E402


def build_catalog(root: Path, n: int, seed: int = 0) -> Dataset:
    """A catalog of ``n`` recordings spread over the tag space (rows only)."""
    ds = Dataset.open(root)
    rng = np.random.default_rng(seed)
    specs = [ds.config.tag(a) for a in ("temperature", "orientation", "noise", "age")]
    labels = ("normal", "imbalance")
    with ds.transaction() as c:
        strata = []
        for lab in labels:
            for combo in np.ndindex(*(len(s.values) for s in specs)):
                tags = {s.name: s.values[i] for s, i in zip(specs, combo, strict=True)}
                strata.append(ds._stratum(c, lab, tags))
        sessions = n // 10 + 1
        c.executemany("INSERT INTO sessions DEFAULT VALUES", [()] * sessions)
        pick = rng.integers(0, len(strata), n)
        dur = rng.uniform(1.0, 30.0, n)
        rows = [
            (
                int(strata[pick[i]]),
                i // 10 + 1,
                "complete",
                "capture",
                200.0,
                3,
                '["x","y","z"]',
                "g",
                8000.0,
                int(dur[i] * 200),
                float(dur[i]),
                f"recordings/{i + 1:06d}.npy",
                json.dumps({"frames_received": 10}),
            )
            for i in range(n)
        ]
        c.executemany(
            "INSERT INTO recordings (stratum, session, state, source, sample_rate, channels,"
            " channel_names, units, fixed_point_scale, samples, duration, payload, quality)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    assert canonical_tags({}) == "{}"
    return ds


def best_of(fn: Callable[[], object], repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    print("== Dataset catalog (100 000 recordings, SQLite WAL) ==")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ds = build_catalog(Path(tmp), 100_000)
        print(f"  build catalog (one transaction)              {time.perf_counter() - t0:8.2f} s")
        with ds:
            one = {"temperature": "hot", "orientation": "vertical"}
            n_one = ds.filter_ids(tags=one).size
            t = best_of(lambda: ds.filter_ids(tags=one))
            print(f"  filter temperature=hot & vertical ({n_one:>6} ids) {t * 1e3:8.1f} ms")
            many = {"noise": ["quiet", "hvac"]}
            n_many = ds.filter_ids(label="normal", tags=many).size
            t = best_of(lambda: ds.filter_ids(label="normal", tags=many))
            print(f"  filter normal & noise in 2 values ({n_many:>6} ids) {t * 1e3:8.1f} ms")
            t = best_of(lambda: ds.recordings(tags=one, limit=200))
            print(f"  first page of 200 full rows                  {t * 1e3:8.1f} ms")
            t = best_of(lambda: coverage_matrix(ds))
            m = coverage_matrix(ds)
            print(
                f"  coverage matrix ({len(m.rows)} rows × {len(m.labels)} labels)"
                f"            {t * 1e3:8.1f} ms"
            )
            t = best_of(lambda: coverage_matrix(ds, tags={"age": "new"}))
            print(f"  coverage matrix restricted to age=new        {t * 1e3:8.1f} ms")
            t = best_of(lambda: ds.filter_ids(tags=one) is not None and coverage_matrix(ds))
            print(f"  filter + coverage                            {t * 1e3:8.1f} ms  (< 50)")
            t = best_of(lambda: make_split(ds, seed=1, save=False), repeats=3)
            print(f"  stratified group split (10 001 sessions)     {t * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
