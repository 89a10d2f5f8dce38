"""Fake quantization that matches onnxruntime's INT8 arithmetic (needs PyTorch).

What the device runs (reference/onnxruntime-int8-arithmetic.md §2.7–2.9, §6):

* weights: per output channel, symmetric, int8 in ``[-127, 127]``, ``s_w = max|w| / 127``;
* biases: int32 with scale ``s_x · s_w`` (rounded, zero point 0);
* activations: per tensor, asymmetric int8 ``[-128, 127]``, ``s = (hi − lo) / 255`` with the
  range widened to include 0 and ``zp = round(−128 − lo / s)`` (half to even);
* a ReLU after Conv/Gemm is folded into the requantization clamp: its output range starts at 0,
  so ``zp = −128`` and the clamp is the ReLU. Here the fake quantizer simply sits after the ReLU.

Gradients pass straight through the rounding (and are zero where a value clips), via
``torch.fake_quantize_per_tensor_affine`` / ``torch.fake_quantize_per_channel_affine``.
Activation ranges start at the PTQ (MinMax calibration) ranges. Then either

* ``learned`` (LSQ-style): the range ends are trainable, ``hi = hi0 · e^a`` (and ``lo = lo0 · e^b``
  where ``lo0 < 0``); the forward pass uses exactly onnxruntime's scale and zero point for the
  current range, the backward pass the LSQ gradient of the step size (rounding straight-through,
  clipped values pull the range out, the rest pull it in), scaled by ``1/√(n·127)``;
* ``ema``: an exponential moving average of the batch min/max, frozen after a warm-up.

The final ranges go to onnxruntime as ``TensorQuantOverrides``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from core.train.backend import require_torch

torch = require_torch()
nn = torch.nn

QMIN, QMAX = -128, 127
WMAX = 127
TINY = float(np.finfo(np.float32).tiny)


def act_qparams(lo: float, hi: float) -> tuple[float, int]:
    """onnxruntime's ``compute_scale_zp`` for an asymmetric int8 activation range."""
    lo32, hi32 = np.float32(min(lo, 0.0)), np.float32(max(hi, 0.0))
    scale = np.float32((np.float64(hi32) - np.float64(lo32)) / (QMAX - QMIN))
    if not math.isfinite(float(scale)) or scale < TINY:
        return 1.0, 0
    zp = int(np.clip(np.round(QMIN - np.float64(lo32) / np.float64(scale)), QMIN, QMAX))
    return float(scale), zp


class ActQuant(nn.Module):  # type: ignore[misc,name-defined]
    """Observes a tensor's range and, when enabled, fake-quantizes it like onnxruntime.

    ``observe``: update the range (first batch: min/max; then EMA with ``momentum``);
    ``enabled``: apply fake quantization with the current range; ``learn``: the range ends are
    trained (LSQ) instead of observed. ``track = False`` keeps the calibration range in QAT.
    """

    def __init__(self, momentum: float = 0.9) -> None:
        super().__init__()
        self.momentum = momentum
        self.track = True  # False: keep the calibration range during QAT (see nets.QuantNet)
        self.observe = False
        self.enabled = False
        self.learn = False
        self.register_buffer("lo", torch.zeros((), dtype=torch.float32))
        self.register_buffer("hi", torch.zeros((), dtype=torch.float32))
        self.register_buffer("seen", torch.zeros((), dtype=torch.bool))
        # Learned ranges: log-factors on the calibrated ends (0 = the calibration range).
        self.log_lo = nn.Parameter(torch.zeros((), dtype=torch.float32), requires_grad=False)
        self.log_hi = nn.Parameter(torch.zeros((), dtype=torch.float32), requires_grad=False)

    def set_range(self, lo: float, hi: float) -> None:
        """Start from ``[lo, hi]`` (e.g. the PTQ model's calibrated range)."""
        with torch.no_grad():
            self.lo.fill_(float(lo))
            self.hi.fill_(float(hi))
            self.seen.fill_(True)
            self.log_lo.zero_()
            self.log_hi.zero_()

    def set_learning(self, on: bool, fixed_too: bool = False) -> None:
        """Train the range ends (where ``track``, or everywhere with ``fixed_too``; ``lo`` only
        when it is below 0)."""
        self.learn = bool(on and (self.track or fixed_too))
        self.log_hi.requires_grad_(self.learn)
        self.log_lo.requires_grad_(self.learn and float(self.lo) < 0.0)

    def forward(self, x: Any) -> Any:
        if (
            self.observe
            and not self.learn
            and (self.track or not bool(self.seen) or not self.enabled)
        ):
            with torch.no_grad():
                lo, hi = x.min().float(), x.max().float()
                if not bool(self.seen):
                    self.lo.copy_(lo)
                    self.hi.copy_(hi)
                    self.seen.fill_(True)
                elif self.momentum >= 1.0 or not self.enabled:
                    # Calibration pass (not yet fake-quantizing): plain running min/max.
                    self.lo.copy_(torch.minimum(self.lo, lo))
                    self.hi.copy_(torch.maximum(self.hi, hi))
                else:
                    m = self.momentum
                    self.lo.mul_(m).add_((1 - m) * lo)
                    self.hi.mul_(m).add_((1 - m) * hi)
        if not self.enabled:
            return x
        scale, zp = self.qparams()
        if self.learn and self.training:
            return self._lsq(x, scale, zp)
        return torch.fake_quantize_per_tensor_affine(x, scale, zp, QMIN, QMAX)

    def _lsq(self, x: Any, scale: float, zp: int) -> Any:
        """onnxruntime's fake quantization in the forward pass, LSQ gradients backward."""
        lo = torch.clamp(self.lo * torch.exp(self.log_lo), max=0.0)
        hi = torch.clamp(self.hi * torch.exp(self.log_hi), min=0.0)
        s = (hi - lo) / (QMAX - QMIN)
        g = 1.0 / math.sqrt(max(1, x.numel()) * QMAX)
        s = s * g + (s - s * g).detach()  # LSQ gradient scaling
        s = s + (scale - s).detach()  # the forward value is exactly onnxruntime's scale
        v = x / s + zp
        q = torch.clamp(v + (torch.round(v) - v).detach(), QMIN, QMAX)
        return (q - zp) * s

    def range(self) -> tuple[float, float]:
        lo = float(self.lo) * math.exp(float(self.log_lo.detach()))
        hi = float(self.hi) * math.exp(float(self.log_hi.detach()))
        return min(0.0, lo), max(0.0, hi)

    def qparams(self) -> tuple[float, int]:
        return act_qparams(*self.range())


def weight_scales(w: Any) -> Any:
    """Per-output-channel symmetric scales ``max|w| / 127`` (float32, never below tiny)."""
    amax = w.detach().abs().reshape(w.shape[0], -1).amax(dim=1)
    return torch.clamp(amax / WMAX, min=TINY).float()


def fake_quant_weight(w: Any) -> tuple[Any, Any]:
    """``(fake-quantized w, per-channel scales)``: int8 ``[-127, 127]``, zero point 0, axis 0."""
    scale = weight_scales(w)
    zp = torch.zeros(w.shape[0], dtype=torch.int32)
    return torch.fake_quantize_per_channel_affine(w, scale, zp, 0, -WMAX, WMAX), scale


def fake_quant_bias(b: Any, scale: Any) -> Any:
    """int32 bias at ``scale = s_x · s_w`` (round half to even), straight-through gradient."""
    q = torch.round(b / scale) * scale
    return b + (q - b).detach()
