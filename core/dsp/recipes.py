"""The two reference recipes the issue names, used by tests, benchmarks and the GUI bench.

They match ``fe_probe --recipe audio|vibration`` in the C++ host build.
"""

from __future__ import annotations

from core.dsp.config import BandsConfig, FilterConfig, PreprocessingConfig

#: 16 kHz mono audio: 40 log-mel bands, window 512, hop 256.
AUDIO_RECIPE = PreprocessingConfig(
    sampleRate=16000.0, windowSize=512, hopLength=256, bands=BandsConfig("mel", 40)
)

#: 3-axis 1600 Hz vibration: 10 Hz high-pass, 16 linear bands, RMS / peak / crest factor.
VIBRATION_RECIPE = PreprocessingConfig(
    sampleRate=1600.0,
    windowSize=256,
    hopLength=128,
    channels=3,
    filter=FilterConfig("highpass", 10.0, 0.7071, 128),
    bands=BandsConfig("linear", 16, 0.0, 800.0),
    stats=("rms", "peak", "crest"),
)
