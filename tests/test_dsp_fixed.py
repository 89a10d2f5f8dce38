"""The numpy fixed-point front-end: behaviour on real signals, streaming, error vs float."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.dsp import (
    BandsConfig,
    PreprocessingConfig,
    StreamingExtractor,
    compile_plan,
    extract_features,
    quantize,
    reference_features,
)
from core.dsp.fixed import isqrt, log2_q8, rfft_q15
from core.dsp.plan import twiddle_table
from core.dsp.reference import feature_snr_db, log_band_error_db
from core.errors import Cancelled, InputFileError
from tests.conftest import AUDIO, VIBRATION


def tone(freq: float, amp: float, seconds: float, rate: float) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.rint(amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)[:, None]


def test_fixed_fft_matches_the_dft_scaled_by_n(rng: np.random.Generator) -> None:
    z = rng.integers(-20000, 20000, size=(8, 256)).astype(np.int32)
    re, im = rfft_q15(z, twiddle_table(256))
    ref = np.fft.rfft(z, axis=1) / 256
    assert np.abs(re - ref.real).max() <= 3
    assert np.abs(im - ref.imag).max() <= 3


def test_a_tone_lights_up_the_band_that_holds_its_frequency() -> None:
    cfg = PreprocessingConfig(sampleRate=16000.0, windowSize=512, bands=BandsConfig("linear", 16))
    frames = extract_features(tone(2250.0, 10000, 1.0, 16000.0), cfg)
    assert (np.argmax(frames, axis=1) == 4).all()  # 16 bands of 500 Hz: 2250 Hz is band 4


def test_silence_gives_the_documented_floor() -> None:
    frames = extract_features(np.zeros((2048, 1), dtype=np.int16), AUDIO)
    # E = 0, e = 0: L(1) − 256·15 = −3840 for every band.
    assert (frames == -3840).all()


def test_quiet_and_loud_tones_differ_by_their_level_in_log2() -> None:
    loud = extract_features(tone(1000.0, 16000, 0.5, 16000.0), AUDIO)
    quiet = extract_features(tone(1000.0, 16000 / 64, 0.5, 16000.0), AUDIO)
    peak = np.argmax(loud[0])
    # 64× in amplitude is 2·6 = 12 in log2 of energy, 3072 in Q8; block normalisation keeps it.
    assert abs(int(loud[0, peak]) - int(quiet[0, peak]) - 3072) <= 8


def test_stats_are_exact_integer_rms_peak_and_crest() -> None:
    cfg = PreprocessingConfig(
        sampleRate=1000.0,
        windowSize=8,
        hopLength=8,
        dcRemoval=False,
        bands=BandsConfig("none"),
        stats=("rms", "peak", "crest"),
    )
    x = np.array([3, -4, 3, -4, 3, -4, 3, -4], dtype=np.int16)[:, None]
    rms, peak, crest = extract_features(x, cfg)[0]
    assert (rms, peak) == (3, 4)  # isqrt(12) = 3
    assert crest == (4 << 8) // 3


def test_log2_q8_follows_the_true_log2_within_one_step() -> None:
    x = np.unique(
        np.concatenate([np.arange(1, 5000), 2 ** np.arange(0, 62), 3 ** np.arange(1, 39)])
    )
    got = log2_q8(x.astype(np.int64))
    want = np.log2(x.astype(np.float64)) * 256
    assert np.abs(got - want).max() <= 1.0


def test_isqrt_is_the_exact_floor() -> None:
    v = np.array([0, 1, 2, 3, 4, 15, 16, 17, 2**30 - 1, 2**30, 99980001], dtype=np.int64)
    assert isqrt(v).tolist() == [int(np.floor(np.sqrt(float(i)))) for i in v.tolist()]


def test_extremes_saturate_without_wrapping() -> None:
    cfg = VIBRATION.replace(channels=1)
    extremes = {
        "dc_max": np.full(4096, 32767),
        "dc_min": np.full(4096, -32768),
        "alternating": np.tile([32767, -32768], 2048),
        "square": np.tile(np.repeat([32767, -32768], 16), 128),
    }
    for name, x in extremes.items():
        samples = x.astype(np.int16)[:, None]
        frames = extract_features(samples, cfg).astype(np.int64)
        ref = np.clip(np.rint(reference_features(samples, cfg)), -32768, 32767)
        bands, stats = frames[:, :16], frames[:, 16:]
        # The high-pass overshoots full scale on a square wave: fixed point saturates there
        # (the float reference does not), so rms and peak stay in range and within 5 %.
        assert ((stats >= 0) & (stats <= 32767)).all(), name
        rms_peak, ref_rms_peak = stats[:, :2], np.minimum(ref[:, 16:18], 32767)
        assert (np.abs(rms_peak - ref_rms_peak) <= 0.05 * ref_rms_peak + 2).all(), name
        # Where there is energy, bands agree with float within 1 dB (85 in Q8 log2); rounding
        # noise stays ≥ 60 dB down (60 dB of energy is 19.93 octaves, 5102 in Q8 log2).
        loud = ref[:, :16] > ref[:, :16].max(axis=1, keepdims=True) - 5102
        assert np.abs(bands - ref[:, :16])[loud].max() <= 85, name
        assert (bands[~loud] < bands.max(axis=1, keepdims=True).repeat(16, 1)[~loud] - 5102).all()


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    chunks=st.lists(st.integers(1, 900), min_size=1, max_size=12),
    hop=st.integers(1, 256),
)
def test_streaming_in_any_chunking_equals_batch(seed: int, chunks: list[int], hop: int) -> None:
    cfg = VIBRATION.replace(hopLength=hop)
    x = np.random.default_rng(seed).integers(-32768, 32768, (sum(chunks), 3)).astype(np.int16)
    stream = StreamingExtractor(cfg)
    out, pos = [], 0
    for n in chunks:
        out.append(stream.push(x[pos : pos + n]))
        pos += n
    assert np.array_equal(np.concatenate(out), extract_features(x, cfg))


def test_push_sample_and_extract_window_follow_the_seed_api() -> None:
    cfg = PreprocessingConfig(
        sampleRate=100.0,
        windowSize=8,
        hopLength=4,
        fixedPointScale=100.0,
        inputRange=300.0,
        bands=BandsConfig("none"),
        stats=("peak",),
    )
    stream = StreamingExtractor(cfg)
    frames = [stream.push_sample(v) for v in np.linspace(-2.0, 2.0, 16)]
    assert stream.extract_window().ravel().tolist() == [
        int(v) for v in np.rint(np.linspace(-2.0, 2.0, 16)[-8:] * 100)
    ]
    assert [i for i, f in enumerate(frames) if f is not None] == [7, 11, 15]


def test_quantize_rounds_half_to_even_and_saturates() -> None:
    cfg = PreprocessingConfig(sampleRate=100.0, windowSize=8, fixedPointScale=1.0)
    got = quantize([0.5, 1.5, 2.5, -0.5, 40000.0, -40000.0], cfg)
    assert got.tolist() == [0, 2, 2, 0, 32767, -32768]


def test_quantize_refuses_nan() -> None:
    cfg = PreprocessingConfig(sampleRate=100.0, windowSize=8)
    with pytest.raises(InputFileError, match="sample 2 is NaN"):
        quantize([0.0, 1.0, float("nan")], cfg)


def test_fixed_point_audio_features_stay_close_to_float(rng: np.random.Generator) -> None:
    t = np.arange(32000) / 16000.0
    x = 6000 * np.sin(2 * np.pi * 700 * t) + 2000 * np.sin(2 * np.pi * 3100 * t)
    samples = np.rint(x + 300 * rng.standard_normal(t.size)).astype(np.int16)[:, None]
    fixed = extract_features(samples, AUDIO)
    ref = reference_features(samples, AUDIO)
    assert log_band_error_db(fixed, ref) < 0.2
    assert feature_snr_db(fixed, ref) > 40


def test_vibration_features_stay_close_to_float(rng: np.random.Generator) -> None:
    t = np.arange(16000) / 1600.0
    x = 4000 * np.sin(2 * np.pi * np.outer(t, [25.0, 50.0, 75.0])) + 8000
    samples = np.rint(x + 200 * rng.standard_normal(x.shape)).astype(np.int16)
    assert (
        feature_snr_db(extract_features(samples, VIBRATION), reference_features(samples, VIBRATION))
        > 30
    )


def test_progress_is_reported_and_cancel_stops_the_work() -> None:
    x = np.zeros((16000 * 4, 1), dtype=np.int16)
    seen: list[float] = []
    extract_features(x, AUDIO, progress=seen.append)
    assert seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(Cancelled):
        extract_features(x, AUDIO, cancel=lambda: True)


def test_plan_tables_follow_the_spec() -> None:
    plan = compile_plan(AUDIO)
    assert (
        plan.window_q15 is not None and plan.window_q15[0] == 0 and plan.window_q15.max() == 32767
    )
    assert tuple(plan.twiddle[0]) == (32768, 0) and tuple(plan.twiddle[128]) == (0, -32768)
    assert plan.band_weights.max() <= 32768 and len(plan.band_start) == 40


def test_streaming_keeps_the_segment_of_its_last_frame(rng: np.random.Generator) -> None:
    cfg = VIBRATION.replace(hopLength=100)
    x = rng.integers(-32768, 32768, (1000, 3)).astype(np.int16)
    stream = StreamingExtractor(cfg)
    assert stream.last_segment is None
    stream.push(x[:700])
    stream.push(x[700:])  # frames end at 384, 484, …, 984: the last reads x[600:984]
    assert stream.last_segment is not None
    assert np.array_equal(stream.last_segment, x[984 - cfg.segment_length : 984])
