"""The interface every capture source implements, and what it says about its stream."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.dataset.quality import CaptureQuality

Cancel = Callable[[], bool]


@dataclass(frozen=True)
class StreamInfo:
    """What a source delivers: the recording's metadata."""

    sample_rate: float
    channel_names: tuple[str, ...]
    units: str
    fixed_point_scale: float
    source: str  # catalog `source`: "link", "text", "replay", "simulated"
    device_id: str | None = None  # clear text here; the dataset stores only a salted hash
    rate_detected: bool = False  # text lines: the rate was measured, not given
    description: str = ""

    @property
    def channels(self) -> int:
        return len(self.channel_names)


class CaptureSource(ABC):
    """A stream of int16 samples ``(n, channels)``.

    ``open`` blocks until the stream is described (handshake, detection) and raises
    ``CaptureError`` if it cannot be; ``read`` returns the samples that arrived within one poll
    interval (possibly none), raises ``LinkLost`` when the connection breaks and
    ``StreamEnded`` at the end of a finite source. Sources never raise on bad data: they count it.
    """

    info: StreamInfo | None = None

    @abstractmethod
    def open(self, cancel: Cancel | None = None) -> StreamInfo: ...

    @abstractmethod
    def read(self) -> npt.NDArray[np.int16]: ...

    @abstractmethod
    def quality(self) -> CaptureQuality: ...

    def counters(self) -> dict[str, int]:
        """Detailed counts behind ``quality()`` for logs and the CLI summary."""
        return {}

    @property
    def frames(self) -> int:
        """Frames (link) or lines (text) received so far, for a frame limit."""
        return self.quality().frames_received + self.quality().bad_lines

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def empty(self) -> npt.NDArray[np.int16]:
        assert self.info is not None
        return np.empty((0, self.info.channels), dtype=np.int16)
