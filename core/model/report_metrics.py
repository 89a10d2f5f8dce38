"""Task metrics for the validation report: accuracy, confusion, ROC AUC, reconstruction scores."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


def roc_auc(scores: npt.ArrayLike, labels: npt.ArrayLike) -> float | None:
    """Area under the ROC curve (Mann–Whitney U, ties averaged); None without both classes."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(s.size, dtype=np.float64)
    sorted_s = s[order]
    # Average ranks over runs of equal scores.
    starts = np.flatnonzero(np.r_[True, sorted_s[1:] != sorted_s[:-1]])
    ends = np.r_[starts[1:], s.size]
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    u = ranks[y].sum() - pos * (pos + 1) / 2.0
    return float(u / (pos * neg))


def confusion(true: npt.ArrayLike, pred: npt.ArrayLike, n_classes: int) -> list[list[int]]:
    """``m[i][j]`` = rows of true class ``i`` predicted as ``j``."""
    t = np.asarray(true, dtype=np.int64)
    p = np.asarray(pred, dtype=np.int64)
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    ok = (t >= 0) & (t < n_classes) & (p >= 0) & (p < n_classes)
    np.add.at(m, (t[ok], p[ok]), 1)
    return m.tolist()  # type: ignore[no-any-return]


def recon_mse_float(
    x: npt.NDArray[np.float32], y: npt.NDArray[np.float32]
) -> npt.NDArray[np.float64]:
    """Float model score: mean squared reconstruction error per row (float64)."""
    n = x.shape[0]
    d = y.reshape(n, -1).astype(np.float64) - x.reshape(n, -1).astype(np.float64)
    return np.mean(d * d, axis=1)  # type: ignore[no-any-return]


def quantize_input(
    x: npt.NDArray[np.float32], scale: float, zero_point: int
) -> npt.NDArray[np.int8]:
    """ORT's input QuantizeLinear: ``sat(RNE(x / s) + zp)`` with a true float32 division."""
    q = np.rint(x.astype(np.float32) / np.float32(scale)) + np.float32(zero_point)
    out: npt.NDArray[np.int8] = np.clip(q, -128, 127).astype(np.int8)
    return out


def recon_mse_int8(
    x: npt.NDArray[np.float32],
    y_dequant: npt.NDArray[np.float32],
    in_scale: float,
    in_zero_point: int,
) -> npt.NDArray[np.float32]:
    """The RECON_MSE post-process of the INT8 conventions, in float32, bit-exact.

    ``y_dequant`` is the QDQ model's output ``f32(q_out − zp_out) · s_out`` (its final
    DequantizeLinear). The input side is requantized exactly as the device does; squared
    differences are summed sequentially in element order in float32, then divided by the count.
    """
    n = x.shape[0]
    q_in = quantize_input(x, in_scale, in_zero_point).reshape(n, -1)
    dq_in = (q_in.astype(np.float32) - np.float32(in_zero_point)) * np.float32(in_scale)
    d = y_dequant.reshape(n, -1).astype(np.float32) - dq_in
    sq = (d * d).astype(np.float32)
    total = np.cumsum(sq, axis=1, dtype=np.float32)[:, -1]  # sequential, not pairwise
    return (total / np.float32(sq.shape[1])).astype(np.float32)


def classifier_metrics(
    pred: npt.NDArray[np.int64], labels: npt.NDArray[np.int64] | None, n_classes: int
) -> dict[str, Any]:
    m: dict[str, Any] = {"n": int(pred.size)}
    if labels is not None and pred.size:
        m["accuracy"] = float(np.mean(pred == labels))
        m["confusion"] = confusion(labels, pred, n_classes)
    return m


def anomaly_metrics(
    scores: npt.NDArray[Any], labels: npt.NDArray[np.int64] | None, threshold: float
) -> dict[str, Any]:
    m: dict[str, Any] = {"n": int(scores.size)}
    if scores.size:
        m["score_mean"] = float(np.mean(scores))
    if labels is not None and scores.size:
        auc = roc_auc(scores, labels)
        m["auc"] = auc
        decision = (np.asarray(scores, dtype=np.float64) > threshold).astype(np.int64)
        m["accuracy"] = float(np.mean(decision == labels))
        m["confusion"] = confusion(labels, decision, 2)
    return m
