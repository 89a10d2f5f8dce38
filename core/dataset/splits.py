"""Train / validation / test splits: stratified by tags, grouped by capture session, seeded.

Whole capture sessions go to one part, so recordings of one sitting (same mounting, same
device warm-up) never leak across parts. Each session counts toward the stratum (label × tag
combination) that holds most of its seconds; strata are walked in a seeded order and their
sessions, shuffled by the seed, go one by one to the part furthest below its share of that
stratum's seconds plus its share of all seconds so far (so strata with a single session still
reach validation and test). The same seed and catalog give the same split.

With ``mirror_deployment`` the validation part is then re-chosen from the non-test sessions to
match the deployment mix of ``[dataset.deployment]`` (shares of tag values in the field), by a
greedy search that adds the session which brings the validation mix closest to the target.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from core.dataset.store import Dataset, DatasetError

PARTS = ("train", "val", "test")


@dataclass(frozen=True)
class Split:
    name: str
    parts: dict[str, npt.NDArray[np.int64]]  # part -> recording ids (sorted)
    params: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)
    mix_distance: float | None = None  # total variation distance of val vs deployment mix

    def part_of(self, recording_id: int) -> str | None:
        for part, ids in self.parts.items():
            if np.isin(recording_id, ids):
                return part
        return None

    def summary(self) -> str:
        total = sum(self.seconds.values()) or 1.0
        lines = [f"split {self.name!r} (seed {self.params.get('seed')})"]
        for part in PARTS:
            ids = self.parts.get(part, np.zeros(0, np.int64))
            sec = self.seconds.get(part, 0.0)
            lines.append(f"  {part:<5} {ids.size:>6} recordings {sec:>9.1f} s  {sec / total:6.1%}")
        if self.mix_distance is not None:
            lines.append(f"  validation vs deployment mix: distance {self.mix_distance:.3f}")
        return "\n".join(lines)


def make_split(
    ds: Dataset,
    *,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    stratify: Sequence[str] | None = None,
    label: str | Sequence[str] | None = None,
    tags: Mapping[str, str | Sequence[str]] | None = None,
    mirror_deployment: bool = False,
    name: str | None = None,
    save: bool = True,
) -> Split:
    """Split the recordings (noise-profile recordings excluded) and optionally save it.

    ``stratify`` names the tags to balance (default: the coverage axes); the label always
    counts. ``label``/``tags`` restrict the recordings as ``Dataset.filter_ids``.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or sum(fractions) <= 0:
        raise DatasetError(f"fractions {tuple(fractions)}: give three shares ≥ 0 (train val test)")
    frac = np.asarray(fractions, dtype=np.float64) / float(sum(fractions))
    axes = tuple(stratify if stratify is not None else ds.config.coverage.axes)
    for a in axes:
        ds.config.tag(a)
    if mirror_deployment and not ds.config.deployment:
        raise DatasetError(
            "no deployment mix declared; add [dataset.deployment] to fieldbench.toml "
            "(see docs/dataset.md) or split without mirroring it"
        )
    ids = ds.filter_ids(label, tags)
    rows = _rows(ds, ids)
    noise = ds.config.noise_label
    rows = [r for r in rows if ds._strata[r[2]][0] != noise]
    if not rows:
        raise DatasetError("no recordings match; nothing to split")

    # session -> {stratum key: seconds}
    sessions: dict[int, dict[tuple[str, ...], float]] = {}
    members: dict[int, list[int]] = {}
    for rid, session, stratum, length in rows:
        lab = ds._strata[stratum][0]
        t = ds.stratum_tags(stratum)
        key = (lab, *(t.get(a, "") for a in axes))
        sessions.setdefault(session, {})
        sessions[session][key] = sessions[session].get(key, 0.0) + length
        members.setdefault(session, []).append(rid)
    by_stratum: dict[tuple[str, ...], list[int]] = {}
    for session, mix in sessions.items():
        primary = max(sorted(mix), key=lambda k: mix[k])
        by_stratum.setdefault(primary, []).append(session)

    rng = np.random.default_rng(seed)
    assigned: dict[int, int] = {}
    overall = np.zeros(3)
    keys = sorted(by_stratum)
    for ki in rng.permutation(len(keys)):
        group = sorted(by_stratum[keys[ki]])
        got = np.zeros(3)
        for k in rng.permutation(len(group)):
            s = group[k]
            d = sum(sessions[s].values())
            # Below its share within the stratum, and overall: strata with one or two sessions
            # still feed validation and test once train has its share.
            deficit = frac * (got.sum() + d) - got + frac * (overall.sum() + d) - overall
            p = int(np.argmax(deficit))
            assigned[s] = p
            got[p] += d
            overall[p] += d

    mix_distance = None
    if mirror_deployment:
        mix_distance = _mirror(ds, assigned, sessions, members, rows, frac, rng)

    parts: dict[str, list[int]] = {p: [] for p in PARTS}
    seconds: dict[str, float] = dict.fromkeys(PARTS, 0.0)
    dur = {r[0]: r[3] for r in rows}
    for session, p in assigned.items():
        parts[PARTS[p]] += members[session]
        seconds[PARTS[p]] += sum(dur[r] for r in members[session])
    split_name = name or f"seed{seed}"
    params: dict[str, Any] = {
        "seed": seed,
        "fractions": [float(f) for f in frac],
        "stratify": list(axes),
        "label": label if label is None or isinstance(label, str) else list(label),
        "tags": {k: v if isinstance(v, str) else list(v) for k, v in (tags or {}).items()},
        "mirrorDeployment": mirror_deployment,
    }
    result = Split(
        split_name,
        {p: np.array(sorted(v), dtype=np.int64) for p, v in parts.items()},
        params,
        seconds,
        mix_distance,
    )
    if save:
        save_split(ds, result)
    return result


def _rows(ds: Dataset, ids: npt.NDArray[np.int64]) -> list[tuple[int, int, int, float]]:
    out: list[tuple[int, int, int, float]] = []
    wanted = set(ids.tolist())
    with ds._lock:
        for rid, session, stratum, duration in ds._conn.execute(
            "SELECT id, session, stratum, duration FROM recordings ORDER BY id"
        ):
            if rid in wanted:
                out.append((rid, session, stratum, duration))
    return out


def _mirror(
    ds: Dataset,
    assigned: dict[int, int],
    sessions: dict[int, dict[tuple[str, ...], float]],
    members: dict[int, list[int]],
    rows: list[tuple[int, int, int, float]],
    frac: npt.NDArray[np.float64],
    rng: np.random.Generator,
) -> float:
    """Re-pick the validation sessions among non-test ones to match the deployment mix."""
    mix = ds.config.deployment
    tags = sorted(mix)
    cells = list(itertools.product(*(sorted(mix[t]) for t in tags)))
    target = np.array([np.prod([mix[t][v] for t, v in zip(tags, c, strict=True)]) for c in cells])
    index = {c: i for i, c in enumerate(cells)}
    profile: dict[int, npt.NDArray[np.float64]] = {}
    row_of = {r[0]: r for r in rows}
    for s in sessions:
        vec = np.zeros(len(cells))
        for rid in members[s]:
            t = ds.stratum_tags(row_of[rid][2])
            c = tuple(t.get(k, "") for k in tags)
            if c in index:
                vec[index[c]] += row_of[rid][3]
        profile[s] = vec
    total = sum(float(p.sum()) for p in profile.values())
    want = frac[1] * total * target
    for s, p in assigned.items():
        if p == 1:
            assigned[s] = 0  # validation is re-chosen from scratch
    pool = [s for s, p in assigned.items() if p != 2 and profile[s].sum() > 0]
    pool = [pool[i] for i in rng.permutation(len(pool))]
    have = np.zeros(len(cells))
    chosen: list[int] = []
    if pool:
        matrix = np.stack([profile[s] for s in pool])
        free = np.ones(len(pool), dtype=bool)
        while free.any():
            base = float(np.abs(have - want).sum())
            costs = np.abs(have[None, :] + matrix - want[None, :]).sum(axis=1)
            costs[~free] = np.inf
            k = int(np.argmin(costs))  # first minimum: the seed's order breaks ties
            if not costs[k] < base - 1e-9:
                break
            free[k] = False
            chosen.append(pool[k])
            have = have + matrix[k]
    for s in chosen:
        assigned[s] = 1
    if have.sum() == 0:
        return 1.0
    return float(0.5 * np.abs(have / have.sum() - target).sum())


def save_split(ds: Dataset, split: Split) -> None:
    """Store (or replace) a split in the catalog."""
    params = dict(split.params)
    params["seconds"] = split.seconds
    params["mixDistance"] = split.mix_distance
    with ds.transaction() as c:
        c.execute("DELETE FROM splits WHERE name = ?", (split.name,))
        c.execute("INSERT INTO splits VALUES (?, ?)", (split.name, json.dumps(params)))
        c.executemany(
            "INSERT INTO split_members VALUES (?, ?, ?)",
            [(split.name, int(r), part) for part, ids in split.parts.items() for r in ids],
        )


def load_split(ds: Dataset, name: str) -> Split:
    """A saved split; recordings deleted since are simply absent."""
    with ds._lock:
        row = ds._conn.execute("SELECT params FROM splits WHERE name = ?", (name,)).fetchone()
        if row is None:
            names = ", ".join(list_splits(ds)) or "(none)"
            raise DatasetError(f"no split named {name!r}; saved splits: {names}")
        members = ds._conn.execute(
            "SELECT recording, part FROM split_members WHERE split = ? ORDER BY recording",
            (name,),
        ).fetchall()
    params = json.loads(row[0])
    parts = {p: np.array([r for r, q in members if q == p], dtype=np.int64) for p in PARTS}
    seconds = params.pop("seconds", {})
    distance = params.pop("mixDistance", None)
    return Split(name, parts, params, seconds, distance)


def list_splits(ds: Dataset) -> list[str]:
    with ds._lock:
        return [r[0] for r in ds._conn.execute("SELECT name FROM splits ORDER BY name")]
