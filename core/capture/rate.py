"""Measured sample rate and arrival jitter, in constant memory.

Each read adds one point (samples so far, host arrival time). A running least-squares line
through the points gives the measured rate (its inverse slope); the standard deviation of the
arrival times around that line is the jitter: how far data arrives from where a steady clock
would deliver it.
"""

from __future__ import annotations

import math


class RateTracker:
    def __init__(self, skip: int = 1) -> None:
        self._skip = skip  # the first read carries the OS buffer's backlog: not a timing point
        self.n = 0
        self._mx = self._my = self._sxx = self._sxy = self._syy = 0.0

    def add(self, samples_total: int, t: float) -> None:
        if self._skip > 0:
            self._skip -= 1
            return
        self.n += 1
        x, y = float(samples_total), t
        dx = x - self._mx
        self._mx += dx / self.n
        dy = y - self._my
        self._my += dy / self.n
        self._sxx += dx * (x - self._mx)
        self._sxy += dx * (y - self._my)
        self._syy += dy * (y - self._my)

    @property
    def rate_hz(self) -> float | None:
        """Samples per second of host time, or None before three timing points."""
        if self.n < 3 or self._sxx <= 0 or self._sxy <= 0:
            return None
        return self._sxx / self._sxy

    @property
    def jitter_ms(self) -> float | None:
        if self.n < 3 or self._sxx <= 0:
            return None
        resid = self._syy - self._sxy * self._sxy / self._sxx
        return 1000.0 * math.sqrt(max(resid, 0.0) / (self.n - 2))
