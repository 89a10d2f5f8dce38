"""On-the-fly augmentation for training: recorded noise at a chosen SNR, gain and offset drift,
time shift. Originals are never written: every function returns a new array.

The noise comes from the workspace's own noise-profile recordings (label ``noiseLabel``,
``background`` by default, tagged with their ``noise`` profile), so a model trained on bench
recordings hears the HVAC or machinery of the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.dataset.store import Dataset, DatasetError

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Augmentation:
    """Ranges drawn per call; an augmentation with all ranges at zero returns the input."""

    snr_db: tuple[float, float] | None = (10.0, 30.0)  # None: no added noise
    gain: tuple[float, float] = (0.9, 1.1)  # multiplicative gain at the start → at the end
    offset: tuple[float, float] = (-0.02, 0.02)  # additive offset drift, physical units
    shift: int = 0  # max circular time shift in samples (±)


def add_noise(signal: F64, noise: F64, snr_db: float, rng: np.random.Generator) -> F64:
    """``signal`` plus a random excerpt of ``noise`` scaled to ``snr_db`` (per-channel power).

    The DC of both is ignored when measuring power, so gravity does not count as signal.
    """
    n = signal.shape[0]
    if noise.shape[0] == 0:
        raise DatasetError("the noise recording is empty")
    if noise.shape[1] != signal.shape[1]:
        raise DatasetError(
            f"noise has {noise.shape[1]} channel(s), the signal {signal.shape[1]}; "
            "record noise profiles with the same sensor"
        )
    reps = int(np.ceil((n + noise.shape[0]) / noise.shape[0]))
    tiled = np.tile(noise, (reps, 1))
    start = int(rng.integers(0, noise.shape[0]))
    excerpt = tiled[start : start + n] - noise.mean(axis=0)
    p_sig = np.mean((signal - signal.mean(axis=0)) ** 2)
    p_noise = np.mean(excerpt**2)
    if p_noise == 0:
        return signal.copy()
    gain = np.sqrt(p_sig / (p_noise * 10 ** (snr_db / 10)))
    return np.asarray(signal + gain * excerpt)


def drift(signal: F64, gain: tuple[float, float], offset: tuple[float, float]) -> F64:
    """Gain ramping from ``gain[0]`` to ``gain[1]`` and offset from ``offset[0]`` to ``[1]``."""
    ramp = np.linspace(0.0, 1.0, signal.shape[0])[:, None]
    g = gain[0] + (gain[1] - gain[0]) * ramp
    o = offset[0] + (offset[1] - offset[0]) * ramp
    return np.asarray(signal * g + o)


def time_shift(signal: F64, samples: int) -> F64:
    """Circular shift by ``samples`` (positive: later)."""
    return np.roll(signal, samples, axis=0)


class Augmenter:
    """Draws augmented copies of recordings, reproducibly from a seed.

    ``noise_profiles`` restricts which noise recordings are used (values of the ``noise`` tag);
    default: all recordings labelled with the workspace's noise label.
    """

    def __init__(
        self,
        ds: Dataset,
        spec: Augmentation | None = None,
        seed: int = 0,
        noise_profiles: Sequence[str] | None = None,
    ) -> None:
        self.ds = ds
        self.spec = spec or Augmentation()
        self.rng = np.random.default_rng(seed)
        tags = {"noise": list(noise_profiles)} if noise_profiles else None
        self.noise_ids = ds.filter_ids(label=ds.config.noise_label, tags=tags)
        if self.spec.snr_db is not None and self.noise_ids.size == 0:
            raise DatasetError(
                f"no noise-profile recordings (label {ds.config.noise_label!r}); record the "
                "background at the site, or augment without noise (snr_db=None)"
            )

    def apply(self, signal: F64) -> F64:
        """An augmented copy of ``signal`` (physical units, ``(samples, channels)``)."""
        s, rng = self.spec, self.rng
        out = np.array(signal, dtype=np.float64, copy=True)
        if s.snr_db is not None:
            rid = int(self.noise_ids[rng.integers(0, self.noise_ids.size)])
            noise = self.ds.load_physical(rid)
            out = add_noise(out, noise, float(rng.uniform(*s.snr_db)), rng)
        g = (float(rng.uniform(*s.gain)), float(rng.uniform(*s.gain)))
        o = (float(rng.uniform(*s.offset)), float(rng.uniform(*s.offset)))
        out = drift(out, g, o)
        if s.shift:
            out = time_shift(out, int(rng.integers(-s.shift, s.shift + 1)))
        return out

    def recording(self, recording_id: int) -> F64:
        """An augmented copy of a stored recording (the payload is only read)."""
        return self.apply(self.ds.load_physical(recording_id))
