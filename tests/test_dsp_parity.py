"""Python and C++ front-ends are bit-exact (docs/dsp.md), loaded through the C ABI.

More than 100,000 random segments over several configs, the extremes the spec names, streaming
through the device's ring buffer against numpy batch, and the device's memory discipline.
"""

from __future__ import annotations

import json
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from core.dsp import BandsConfig, FilterConfig, PreprocessingConfig, compile_plan
from core.dsp.fixed import extract_features, extract_segments, log2_q8
from core.dsp.native import NativeError, NativeExtractor, load_library
from tests.conftest import AUDIO, VIBRATION

ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT / "build" / "host" / "fe_probe"

CONFIGS = {
    "audio-mel40": (AUDIO, 40_000),
    "vibration-3ch": (VIBRATION, 15_000),
    "rect-linear-none": (
        PreprocessingConfig(
            sampleRate=8000.0,
            windowSize=200,
            hopLength=77,
            fftSize=256,
            window="rectangular",
            bands=BandsConfig("linear", 12, 100.0, 3900.0),
            compression="none",
        ),
        15_000,
    ),
    "lowpass-2ch-small-fft": (
        PreprocessingConfig(
            sampleRate=4000.0,
            windowSize=64,
            hopLength=32,
            channels=2,
            fftSize=64,
            filter=FilterConfig("lowpass", 900.0, 1.2, 40),
            bands=BandsConfig("mel", 8),
            stats=("crest", "rms"),
        ),
        15_000,
    ),
    "bandpass-stats-only-no-dc": (
        PreprocessingConfig(
            sampleRate=1000.0,
            windowSize=100,
            hopLength=100,
            dcRemoval=False,
            filter=FilterConfig("bandpass", 120.0, 2.0, 0),
            bands=BandsConfig("none"),
            stats=("peak", "rms", "crest"),
        ),
        10_000,
    ),
    "big-fft-4096": (
        PreprocessingConfig(
            sampleRate=48000.0,
            windowSize=3000,
            hopLength=1500,
            fftSize=4096,
            bands=BandsConfig("mel", 64, 20.0, 20000.0),
            stats=("rms",),
        ),
        5_000,
    ),
}


@pytest.fixture(scope="module")
def lib():
    return load_library()


def random_segments(cfg: PreprocessingConfig, n: int, seed: int) -> np.ndarray:
    """Uniform, Gaussian and quiet segments, so block normalisation takes every shift."""
    rng = np.random.default_rng(seed)
    shape = (n, cfg.channels, cfg.segment_length)
    x = rng.integers(-32768, 32768, size=shape, dtype=np.int64)
    gauss = rng.standard_normal(shape) * (2.0 ** rng.uniform(0, 15, size=(n, 1, 1)))
    third = n // 3
    x[third : 2 * third] = np.clip(np.rint(gauss[third : 2 * third]), -32768, 32767)
    quiet = rng.integers(-8, 9, size=shape) + rng.integers(-100, 100, size=(n, 1, 1))
    x[2 * third :] = quiet[2 * third :]
    return x.astype(np.int16)


def extreme_signals(cfg: PreprocessingConfig) -> dict[str, np.ndarray]:
    n = cfg.segment_length * 6
    t = np.arange(n) / cfg.sampleRate
    chirp = np.sin(2 * np.pi * (0.01 * cfg.sampleRate * t + 0.2 * cfg.sampleRate * t**2 / t[-1]))
    one = {
        "silence": np.zeros(n),
        "dc+": np.full(n, 32767.0),
        "dc-": np.full(n, -32768.0),
        "alternating": np.tile([32767.0, -32768.0], n // 2 + 1)[:n],
        "square-fs": np.where(np.sin(2 * np.pi * 0.013 * np.arange(n)) >= 0, 32767.0, -32768.0),
        "square-fast": np.where(np.arange(n) % 6 < 3, 32767.0, -32768.0),
        "chirp-fs": 32767.0 * chirp,
        "clipped": np.clip(90000.0 * chirp, -32768, 32767),
        "impulse": np.where(np.arange(n) % cfg.windowSize == 5, -32768.0, 0.0),
    }
    return {k: np.repeat(v[:, None], cfg.channels, axis=1).astype(np.int16) for k, v in one.items()}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_random_segments_are_bit_exact(lib, name: str) -> None:
    cfg, count = CONFIGS[name]
    plan = compile_plan(cfg)
    native = NativeExtractor(plan, lib)
    for part in range(0, count, 5000):
        segments = random_segments(
            cfg, min(5000, count - part), seed=zlib.crc32(f"{name}/{part}".encode())
        )
        want = extract_segments(segments, plan)
        got = native.extract_segments(segments)
        mismatch = np.argwhere(got != want)
        assert mismatch.size == 0, f"{name}: first mismatch at frame/feature {mismatch[0]}"


@pytest.mark.parametrize("name", list(CONFIGS))
def test_extremes_are_bit_exact(lib, name: str) -> None:
    cfg, _ = CONFIGS[name]
    native = NativeExtractor(compile_plan(cfg), lib)
    for signal, x in extreme_signals(cfg).items():
        assert np.array_equal(native.extract_features(x), extract_features(x, cfg)), signal


@pytest.mark.parametrize("name", ["audio-mel40", "vibration-3ch", "lowpass-2ch-small-fft"])
def test_device_streaming_equals_numpy_batch(lib, name: str) -> None:
    cfg, _ = CONFIGS[name]
    rng = np.random.default_rng(7)
    x = rng.integers(-32768, 32768, size=(cfg.segment_length * 40, cfg.channels)).astype(np.int16)
    native = NativeExtractor(compile_plan(cfg), lib)
    frames, pos = [], 0
    while pos < len(x):
        n = int(rng.integers(1, 3 * cfg.hop))
        frames.append(native.push(x[pos : pos + n]))
        pos += n
    assert np.array_equal(np.concatenate(frames), extract_features(x, cfg))


def test_log2_q8_is_identical(lib) -> None:
    rng = np.random.default_rng(3)
    xs = np.unique(
        np.concatenate(
            [
                np.arange(1, 70000),
                2 ** np.arange(0, 62),
                2 ** np.arange(1, 62) - 1,
                rng.integers(1, 2**62, 50000),
            ]
        )
    ).astype(np.int64)
    got = np.array([lib.fb_fe_log2_q8(int(v)) for v in xs])
    assert np.array_equal(got, log2_q8(xs))


def test_input_quantisation_is_identical(lib) -> None:
    from core.dsp import quantize

    cfg = PreprocessingConfig(sampleRate=100.0, windowSize=8, fixedPointScale=1.0)
    raw = np.concatenate([np.arange(-40000.5, 40000.5, 0.5), [0.49999999, 1e9, -1e9]])
    want = quantize(raw, cfg)
    got = np.array([lib.fb_quantize_sample(float(v), 1.0) for v in raw], dtype=np.int16)
    assert np.array_equal(got, want)


def test_a_pool_one_byte_short_is_refused(lib) -> None:
    plan = compile_plan(AUDIO)
    needed = NativeExtractor(plan, lib).pool_bytes
    with pytest.raises(NativeError, match="pool too small"):
        NativeExtractor(plan, lib, pool_slack=-1)
    assert needed > 0


def probe(recipe: str) -> dict[str, int]:
    out = subprocess.run(
        [str(PROBE), "--recipe", recipe, "--hops", "300", "--no-timing"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("recipe", ["audio", "vibration"])
def test_extraction_never_touches_the_heap_and_has_a_bounded_stack(recipe: str) -> None:
    figures = probe(recipe)
    assert figures["heap_allocs_during_extraction"] == 0
    assert 0 < figures["stack_high_water_bytes"] < 16 * 1024
    assert figures["pool_bytes"] > 0
