"""A built-in signal generator: real signals to look at before any capture exists."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

KINDS = ("sine", "chirp", "square", "noise", "fan")


@dataclass
class SignalGenerator:
    """Generates ``(n, channels)`` float64 blocks continuously (phase carries across calls).

    ``fan`` imitates a 3-axis accelerometer on a ceiling fan: gravity on z, the shaft rate and
    harmonics, an imbalance that grows the first harmonic, and sensor noise.
    """

    kind: str = "sine"
    sample_rate: float = 16000.0
    channels: int = 1
    frequency: float = 440.0
    amplitude: float = 8000.0
    noise: float = 100.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"signal kind {self.kind!r}: must be one of {', '.join(KINDS)}")
        self._n = 0
        self._rng = np.random.default_rng(self.seed)

    def reset(self) -> None:
        self._n = 0
        self._rng = np.random.default_rng(self.seed)

    def next(self, n: int) -> npt.NDArray[np.float64]:
        t0 = (self._n + np.arange(n)) / self.sample_rate
        self._n += n
        out = np.empty((n, self.channels))
        for c in range(self.channels):
            # Each channel sees the same source a little later, as a second axis would.
            out[:, c] = self._wave(t0 - c * 0.13 / max(self.frequency, 1e-3))
            out[:, c] += self.noise * self._rng.standard_normal(n)
        if self.kind == "fan" and self.channels >= 3:
            out[:, 2] += self.amplitude * 4.0  # gravity on z
        return out

    def _wave(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        f, a = self.frequency, self.amplitude
        if self.kind == "sine":
            return a * np.sin(2 * np.pi * f * t)
        if self.kind == "square":
            return a * np.sign(np.sin(2 * np.pi * f * t))
        if self.kind == "chirp":
            # Linear sweep from 0.05·fs to 0.45·fs over 4 s, repeating.
            period = 4.0
            tau = np.mod(t, period)
            f0, f1 = 0.05 * self.sample_rate, 0.45 * self.sample_rate
            return a * np.sin(2 * np.pi * (f0 * tau + (f1 - f0) * tau**2 / (2 * period)))
        if self.kind == "noise":
            return np.zeros_like(t)
        return a * (np.sin(2 * np.pi * f * t) + 0.3 * np.sin(2 * np.pi * 2 * f * t + 0.5))
