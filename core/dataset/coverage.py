"""The coverage matrix: recordings and seconds per tag combination per label, gaps flagged.

Rows are every combination of the coverage axes' allowed values (``[dataset.coverage] axes``),
so an empty cell shows up as a gap rather than a missing row; recordings that lack an axis tag
get a row with ``—`` for it (not a target cell). Columns are the declared labels (or the labels
seen). The noise label's column is shown but never flagged: noise-profile recordings feed the
augmentation, they need not cover every condition.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.dataset.schema import CoverageTarget
from core.dataset.store import Dataset

UNTAGGED = "—"
UNLABELLED = "(unlabelled)"


@dataclass(frozen=True)
class CoverageMatrix:
    axes: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]  # one value per axis; UNTAGGED where a recording had none
    labels: tuple[str, ...]
    recordings: npt.NDArray[np.int64]  # (rows, labels)
    seconds: npt.NDArray[np.float64]  # (rows, labels)
    gap: npt.NDArray[np.bool_]  # (rows, labels): a target cell below the target
    in_target: npt.NDArray[np.bool_]  # (rows, labels): cells the target applies to
    target: CoverageTarget

    @property
    def gaps(self) -> list[tuple[tuple[str, ...], str]]:
        """(tag combination, label) of every cell below the target."""
        r, c = np.nonzero(self.gap)
        return [(self.rows[i], self.labels[j]) for i, j in zip(r, c, strict=True)]

    @property
    def filled_fraction(self) -> float:
        """Share of target cells that meet the target."""
        target = self.in_target
        return float((~self.gap & target).sum() / target.sum()) if target.any() else 1.0

    def cell(self, row: Sequence[str], label: str) -> tuple[int, float, bool]:
        i, j = self.rows.index(tuple(row)), self.labels.index(label)
        return int(self.recordings[i, j]), float(self.seconds[i, j]), bool(self.gap[i, j])

    def table(self) -> str:
        """A readable text table: ``n / seconds`` per cell, ``!`` marks a gap."""
        head = [*self.axes, *self.labels]
        body = []
        for i, row in enumerate(self.rows):
            cells = []
            for j in range(len(self.labels)):
                n, s = int(self.recordings[i, j]), float(self.seconds[i, j])
                mark = "!" if self.gap[i, j] else " "
                cells.append(f"{mark}{n:>4} / {s:>7.1f}s" if n else f"{mark}   0")
            body.append([*row, *cells])
        widths = [max(len(str(r[k])) for r in [head, *body]) for k in range(len(head))]
        lines = ["  ".join(str(v).ljust(w) for v, w in zip(head, widths, strict=True))]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) for r in body]
        t = self.target
        lines.append(
            f"{len(self.gaps)} gap(s) (!) against the target of {t.min_recordings} recording(s)"
            f" and {t.min_seconds:g} s per cell; {self.filled_fraction:.0%} of cells filled"
        )
        return "\n".join(lines)


def coverage_matrix(
    ds: Dataset,
    axes: Sequence[str] | None = None,
    label: str | Sequence[str] | None = None,
    tags: Mapping[str, str | Sequence[str]] | None = None,
    states: Sequence[str] = ("complete", "interrupted"),
) -> CoverageMatrix:
    """Count recordings and seconds per (tag combination of ``axes``) × label.

    ``axes`` defaults to the workspace's coverage axes; ``label``/``tags`` restrict the
    recordings counted (as ``Dataset.filter_ids``). One grouped query over a covering index,
    then the aggregation happens over the (small) strata table.
    """
    cfg = ds.config
    axes = tuple(axes if axes is not None else cfg.coverage.axes)
    for a in axes:
        cfg.tag(a)
    strata = set(ds.matching_strata(label, tags))
    marks = ",".join("?" * len(states))
    with ds._lock:
        grouped = ds._conn.execute(
            f"SELECT stratum, COUNT(*), SUM(duration) FROM recordings WHERE state IN ({marks})"
            " GROUP BY stratum",
            tuple(states),
        ).fetchall()
        segmented = ds._conn.execute(
            f"SELECT r.stratum, s.label, COUNT(DISTINCT r.id), SUM((s.stop - s.start) / "
            f"r.sample_rate) FROM segments s JOIN recordings r ON r.id = s.recording "
            f"WHERE r.state IN ({marks}) GROUP BY r.stratum, s.label",
            tuple(states),
        ).fetchall()
    known = ds._strata
    parsed = {sid: (known[sid][0], ds.stratum_tags(sid)) for sid in strata if sid in known}

    counts: dict[tuple[tuple[str, ...], str], list[float]] = {}

    def add(sid: int, lab: str, n: int, sec: float) -> None:
        if sid not in parsed:
            return
        tagmap = parsed[sid][1]
        key = (tuple(tagmap.get(a, UNTAGGED) for a in axes), lab or UNLABELLED)
        acc = counts.setdefault(key, [0, 0.0])
        acc[0] += n
        acc[1] += sec or 0.0

    seg_strata = {s[0] for s in segmented}
    for sid, n, sec in grouped:
        lab = parsed[sid][0] if sid in parsed else ""
        if lab or sid not in seg_strata:
            add(sid, lab, n, sec)
    for sid, lab, n, sec in segmented:
        if sid in parsed and not parsed[sid][0]:
            add(sid, lab, n, sec)

    full = [tuple(cfg.tag(a).values) for a in axes]
    rows = list(itertools.product(*full))
    extra = sorted({k[0] for k in counts} - set(rows))
    rows += extra
    seen = {k[1] for k in counts}
    if cfg.labels:
        labels = list(cfg.labels)
        if cfg.noise_label in seen:
            labels.append(cfg.noise_label)
        labels += sorted(seen - set(labels) - {UNLABELLED})
    else:
        labels = sorted(seen - {UNLABELLED})
    if UNLABELLED in seen:
        labels.append(UNLABELLED)
    if not labels:
        labels = [UNLABELLED]
    row_index = {r: i for i, r in enumerate(rows)}
    col_index = {lab: j for j, lab in enumerate(labels)}
    n_arr = np.zeros((len(rows), len(labels)), dtype=np.int64)
    s_arr = np.zeros((len(rows), len(labels)), dtype=np.float64)
    for (row, lab), (n, sec) in counts.items():
        n_arr[row_index[row], col_index[lab]] = int(n)
        s_arr[row_index[row], col_index[lab]] = sec
    t = cfg.coverage
    below = (n_arr < t.min_recordings) | (s_arr < t.min_seconds)
    target_rows = np.array([UNTAGGED not in r for r in rows], dtype=bool)
    target_cols = np.array([lab not in (UNLABELLED, cfg.noise_label) for lab in labels])
    in_target = target_rows[:, None] & target_cols[None, :]
    gap = below & in_target
    return CoverageMatrix(axes, tuple(rows), tuple(labels), n_arr, s_arr, gap, in_target, t)
