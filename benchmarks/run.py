"""``make bench``: printed figures for the feature front-end, side by side in one run.

Not timed tests: figures to read. Sections follow the foundation issue: batch real-time factors
(ours vs librosa vs float numpy vs the C++ build), streaming cost per hop (Python, C++, callgrind
instructions), pool bytes and stack high-water, and the Features tab's frame time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.dsp import (  # noqa: E402
    PreprocessingConfig,
    StreamingExtractor,
    compile_plan,
    extract_features,
    reference_features,
)
from core.dsp.recipes import AUDIO_RECIPE, VIBRATION_RECIPE  # noqa: E402
from core.dsp.reference import feature_snr_db, log_band_error_db  # noqa: E402

PROBE = ROOT / "build" / "host" / "fe_probe"
AUDIO = AUDIO_RECIPE
VIBRATION = VIBRATION_RECIPE


def best_of(fn: Callable[[], object], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def row(name: str, seconds: float, audio_s: float, note: str = "") -> None:
    print(f"  {name:<44} {seconds * 1e3:9.1f} ms   {audio_s / seconds:8.0f}× real time  {note}")


def audio_signal(seconds: float = 60.0) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * 16000)) / 16000
    x = 6000 * np.sin(2 * np.pi * (200 + 50 * t) * t) + 1500 * rng.standard_normal(t.size)
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)[:, None]


def vibration_signal(seconds: float = 60.0) -> np.ndarray:
    from core.sample import fan_vibration

    return np.clip(np.rint(fan_vibration(6.0, 0.05, seconds) * 8000), -32768, 32767).astype(
        np.int16
    )


def native_or_none(cfg: PreprocessingConfig):
    try:
        from core.dsp.native import native_extractor

        return native_extractor(cfg)
    except Exception as exc:
        print(f"  (C++ build unavailable: {exc})")
        return None


def three_ways(cfg: PreprocessingConfig, x: np.ndarray, seconds: float) -> float:
    """Rows for our numpy path, the float64 reference and the C++ build; returns ours."""
    plan = compile_plan(cfg)
    extract_features(x[: cfg.segment_length * 4], plan)
    ours = best_of(lambda: extract_features(x, plan))
    row("fieldbench fixed-point (numpy)", ours, seconds)
    row("float64 reference (numpy)", best_of(lambda: reference_features(x, cfg), 3), seconds)
    native = native_or_none(cfg)
    if native is not None:
        cpp = best_of(lambda: native.extract_features(x), 3)
        row("C++ edge_runtime (host -O2, ctypes batch)", cpp, seconds)
    return ours


def batch_section() -> None:
    print("\n== Batch features: 60 s of 16 kHz mono audio, 40 log-mel, window 512, hop 256 ==")
    x = audio_signal()
    ours = three_ways(AUDIO, x, 60.0)
    try:
        import librosa

        y = x[:, 0].astype(np.float32) / 32768.0

        def lib() -> object:
            m = librosa.feature.melspectrogram(
                y=y, sr=16000, n_fft=512, hop_length=256, n_mels=40, center=False
            )
            return np.log2(m + 1e-10)

        lib()
        t = best_of(lib)
        name = f"librosa {librosa.__version__} melspectrogram + log"
        row(name, t, 60.0, f"ours/librosa = {ours / t:.2f}")
    except ImportError:
        print("  librosa not installed (make bench installs the [bench] extra)")
    fixed = extract_features(x[: 16000 * 10], AUDIO)
    flt = reference_features(x[: 16000 * 10], AUDIO)
    print(
        f"  fixed vs float64: feature SNR {feature_snr_db(fixed, flt):.1f} dB, "
        f"mean |error| {log_band_error_db(fixed, flt):.3f} dB per log-mel band"
    )

    print("\n== Batch features: 60 s of 3-axis 1600 Hz vibration, vibration recipe ==")
    v = vibration_signal()
    three_ways(VIBRATION, v, 60.0)
    snr = feature_snr_db(extract_features(v, VIBRATION), reference_features(v, VIBRATION))
    print(f"  fixed vs float64: feature SNR {snr:.1f} dB")


def probe(recipe: str, hops: int, timing: bool = True, wrapper: list[str] | None = None) -> dict:
    args = [*(wrapper or []), str(PROBE), "--recipe", recipe, "--hops", str(hops)]
    if not timing:
        args.append("--no-timing")
    out = subprocess.run(args, capture_output=True, text=True, check=True, cwd="/tmp")
    return json.loads(out.stdout.strip().splitlines()[-1])


def callgrind_per_hop(recipe: str) -> float | None:
    if shutil.which("valgrind") is None:
        return None
    counts = []
    for hops in (100, 300):
        outfile = f"/tmp/fb-callgrind-{recipe}-{hops}.out"
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={outfile}",
                str(PROBE),
                "--recipe",
                recipe,
                "--hops",
                str(hops),
                "--no-timing",
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd="/tmp",
        )
        text = Path(outfile).read_text()
        summary = next(line for line in text.splitlines() if line.startswith("summary:"))
        counts.append(int(summary.split()[1]))
        os.unlink(outfile)
    return (counts[1] - counts[0]) / 200.0


def streaming_section() -> None:
    print("\n== Streaming cost per hop ==")
    for name, cfg, sig in (
        ("audio", AUDIO, audio_signal(10.0)),
        ("vibration", VIBRATION, vibration_signal(30.0)),
    ):
        stream = StreamingExtractor(cfg)
        hop = cfg.hop
        n_hops = (len(sig) - cfg.segment_length) // hop
        stream.push(sig[: cfg.segment_length])
        t0 = time.perf_counter()
        for i in range(n_hops):
            start = cfg.segment_length + i * hop
            stream.push(sig[start : start + hop])
        py_us = (time.perf_counter() - t0) / n_hops * 1e6
        hop_ms = hop / cfg.sampleRate * 1e3
        print(f"  {name:<10} hop = {hop} samples ({hop_ms:.1f} ms)")
        rtf = py_us / 1e3 / hop_ms
        print(f"    Python StreamingExtractor.push     {py_us:9.1f} µs/hop   RTF {rtf:.4f}")
        if PROBE.exists():
            fig = probe(name, 2000)
            ns = fig["ns_per_hop"]
            print(
                f"    C++ fb_fe_push (host -O2)          {ns / 1e3:9.1f} µs/hop   "
                f"RTF {ns / 1e6 / hop_ms:.5f}   Python/C++ = {py_us * 1e3 / ns:.0f}×"
            )
            ins = callgrind_per_hop(name)
            if ins is not None:
                print(f"    C++ callgrind instructions         {ins:9.0f} per hop")
            print(
                f"    pool bytes {fig['pool_bytes']}, "
                f"stack high-water {fig['stack_high_water_bytes']} B of the thread "
                f"({fig.get('stack_below_thread_entry_bytes', '?')} B below its entry), "
                f"heap allocations during extraction {fig['heap_allocs_during_extraction']}"
            )
        else:
            print("    (C++ probe not built: run make test once)")


def gui_section() -> None:
    print("\n== Features tab frame time (offscreen, forced renders, 16 kHz stream, 30 fps) ==")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        from gui.bench import measure_features_tab
    except ImportError as exc:
        print(f"  (GUI benchmark unavailable: {exc})")
        return
    fig = measure_features_tab(10.0)
    print(
        f"  frame time median {fig['median_ms']:.1f} ms, p95 {fig['p95_ms']:.1f} ms "
        f"(goal p95 ≤ 25 ms), max {fig['max_ms']:.1f} ms over {int(fig['frames'])} frames;\n"
        f"  timer slot median {fig['tick_median_ms']:.2f} ms; CPU {100 * fig['cpu_share']:.0f} % "
        f"of one core; live fixed-vs-float SNR {fig['snr_db']:.1f} dB"
    )


SECTIONS = (
    "dataset",
    "capture",
    "model_executor",
    "model_quantize",
    "model_runtime",
    "bundle",
    "train",
)


def main() -> None:
    print(
        f"Fieldbench benchmarks — numpy {np.__version__}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs"
    )
    batch_section()
    streaming_section()
    gui_section()
    # Each area's benchmark lives in its own module (benchmarks/<area>.py) with a main().
    import importlib

    for area in SECTIONS:
        try:
            module = importlib.import_module(area)
        except ModuleNotFoundError as exc:  # an optional extra (e.g. torch) is missing
            print(f"\n== {area}: skipped ({exc}) ==")
            continue
        module.main()


if __name__ == "__main__":
    main()
