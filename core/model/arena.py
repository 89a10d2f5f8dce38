"""Activation arena plan: one byte offset per tensor, reusing memory between dead tensors.

Lifetimes follow model_format.h: the input tensor is written at step -1 (the quantize step),
layer ``i`` writes its output at step ``i``; a tensor lives until the last layer that reads it;
the output lives to the end, and so does the input for RECON_MSE. Lifetimes are closed
intervals, so a layer's output never shares bytes with its own inputs. A RESHAPE output aliases
its input (same offset, lifetimes merged) — no copy.

Placement is the greedy-by-size strategy of TFLM's GreedyMemoryPlanner: the largest buffer
first, each at the lowest aligned offset that clashes with no placed buffer alive at the same
time.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import FieldbenchError
from core.model.ir import IntModel, Op, Postprocess

ALIGN = 16  # ESP32-S3 PIE vector loads want 16-byte aligned operands


class ArenaError(FieldbenchError):
    """An arena plan puts two live tensors on the same bytes or outside the arena."""


@dataclass(frozen=True)
class ArenaPlan:
    offsets: tuple[int, ...]  # per tensor id
    arena_bytes: int
    lifetimes: tuple[tuple[int, int], ...]  # per tensor id: (first step, last step)
    alignment: int = ALIGN

    def as_dict(self) -> dict[str, object]:
        return {"arena_bytes": self.arena_bytes, "offsets": list(self.offsets)}


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def lifetimes(model: IntModel) -> list[tuple[int, int]]:
    """(write step, last read step) per tensor, before alias merging."""
    n = len(model.tensors)
    end = len(model.layers)
    first = [end] * n
    last = [-1] * n
    first[model.input] = -1
    for step, layer in enumerate(model.layers):
        first[layer.output] = min(first[layer.output], step)
        for t in layer.inputs:
            last[t] = max(last[t], step)
    last[model.output] = end
    if model.postprocess is Postprocess.RECON_MSE:
        last[model.input] = end
    return [(f, max(f, la)) for f, la in zip(first, last, strict=True)]


def _alias_roots(model: IntModel) -> list[int]:
    root = list(range(len(model.tensors)))
    for layer in model.layers:
        if layer.op is Op.RESHAPE:
            root[layer.output] = root[layer.inputs[0]]
    return root


def plan_arena(model: IntModel, alignment: int = ALIGN) -> ArenaPlan:
    """Place every tensor; RESHAPE outputs share their input's storage."""
    life = lifetimes(model)
    root = _alias_roots(model)
    groups: dict[int, list[int]] = {}
    for t, r in enumerate(root):
        groups.setdefault(r, []).append(t)
    span = {
        r: (min(life[t][0] for t in ts), max(life[t][1] for t in ts)) for r, ts in groups.items()
    }
    size = {r: max(model.tensors[t].size for t in ts) for r, ts in groups.items()}
    order = sorted(groups, key=lambda r: (-size[r], span[r][0], r))
    placed: list[tuple[int, int, int, int]] = []  # offset, size, first, last
    where: dict[int, int] = {}
    for r in order:
        lo, hi = span[r]
        clashes = sorted((off, off + sz) for off, sz, f, la in placed if not (la < lo or f > hi))
        offset = 0
        for start, stop in clashes:
            if offset + size[r] <= start:
                break
            offset = max(offset, _align(stop, alignment))
        where[r] = offset
        placed.append((offset, size[r], lo, hi))
    offsets = tuple(where[root[t]] for t in range(len(model.tensors)))
    total = max((o + model.tensors[t].size for t, o in enumerate(offsets)), default=0)
    plan = ArenaPlan(offsets, _align(total, alignment), tuple(life), alignment)
    validate_plan(model, plan)
    return plan


def validate_plan(model: IntModel, plan: ArenaPlan) -> None:
    """The C parser's checks: in bounds, and no two live tensors on the same bytes."""
    life = lifetimes(model)
    root = _alias_roots(model)
    n = len(model.tensors)
    if len(plan.offsets) != n:
        raise ArenaError(f"arena plan has {len(plan.offsets)} offsets for {n} tensors")
    for t in range(n):
        if plan.offsets[t] < 0 or plan.offsets[t] + model.tensors[t].size > plan.arena_bytes:
            raise ArenaError(f"tensor {t} lies outside the {plan.arena_bytes}-byte arena")
    for a in range(n):
        for b in range(a + 1, n):
            if root[a] == root[b] and plan.offsets[a] == plan.offsets[b]:
                continue  # one storage (RESHAPE alias)
            la, lb = life[a], life[b]
            if la[1] < lb[0] or lb[1] < la[0]:
                continue
            oa, ob = plan.offsets[a], plan.offsets[b]
            if oa < ob + model.tensors[b].size and ob < oa + model.tensors[a].size:
                raise ArenaError(f"tensors {a} and {b} are live together and share arena bytes")
