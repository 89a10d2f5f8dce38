"""The C++ verifier of the firmware host build (``build/host/bundle_verify``), run in batches."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.bundle.verify import DeviceContext
from core.errors import FieldbenchError


class NativeVerifierUnavailable(FieldbenchError):
    """The host build of the C++ verifier is missing."""


def native_tool() -> Path:
    """Path of the bundle_verify host tool; says how to build it when missing."""
    env = os.environ.get("FIELDBENCH_BUNDLE_VERIFY")
    root = Path(__file__).resolve().parent.parent.parent
    candidates = [Path(env)] if env else []
    bundled = getattr(sys, "_MEIPASS", None)
    if bundled:
        candidates.append(Path(bundled) / "bundle_verify")
    candidates.append(root / "build" / "host" / "bundle_verify")
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    raise NativeVerifierUnavailable(
        "the C++ bundle verifier is not built; run `cmake -S firmware/host -B build/host && "
        "cmake --build build/host --target bundle_verify` (or `make setup`)"
    )


@dataclass(frozen=True)
class NativeCase:
    """One script line for the tool: ``ok``, ``flip O M``, ``trunc N``, ``append N``,
    ``patch O HEX`` or whole replacement ``data`` (written to a file), under ``context``."""

    op: str
    context: DeviceContext
    data: bytes | None = None


def run_native(base: bytes, cases: Sequence[NativeCase]) -> list[str]:
    """Verdicts of the C++ verifier for every case, in one process."""
    tool = native_tool()
    with tempfile.TemporaryDirectory(prefix="fb-bundle-") as tmp:
        folder = Path(tmp)
        (folder / "base.fbb").write_bytes(base)
        lines: list[str] = []
        current: DeviceContext | None = None
        for i, case in enumerate(cases):
            if case.context != current:
                lines += [f"ctx {kv}" for kv in case.context.native_lines()]
                current = case.context
            if case.data is not None:
                path = folder / f"case{i}.fbb"
                path.write_bytes(case.data)
                lines.append(f"file {path}")
            else:
                lines.append(case.op)
        script = folder / "script.txt"
        script.write_text("\n".join(lines) + "\n", encoding="ascii")
        proc = subprocess.run(
            [str(tool), "--base", str(folder / "base.fbb"), "--script", str(script)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise FieldbenchError(
                f"bundle_verify failed ({proc.returncode}): {proc.stderr.strip()}"
            )
        out = proc.stdout.splitlines()
    if len(out) != len(cases):
        raise FieldbenchError(f"bundle_verify answered {len(out)} of {len(cases)} cases")
    return out


def native_verify_file(path: str | Path, context: DeviceContext) -> str:
    """The C++ verdict for one bundle file."""
    data = Path(path).read_bytes()
    return run_native(data, [NativeCase("ok", context)])[0]


def native_bench(bundle: bytes, context: DeviceContext, count: int) -> float:
    """Mean microseconds per verification of ``bundle`` by the C++ verifier."""
    tool = native_tool()
    with tempfile.TemporaryDirectory(prefix="fb-bundle-") as tmp:
        base = Path(tmp) / "base.fbb"
        base.write_bytes(bundle)
        script = Path(tmp) / "script.txt"
        lines = [f"ctx {kv}" for kv in context.native_lines()] + [f"bench {count}"]
        script.write_text("\n".join(lines) + "\n", encoding="ascii")
        proc = subprocess.run(
            [str(tool), "--base", str(base), "--script", str(script)],
            capture_output=True,
            text=True,
            check=True,
        )
    fields = proc.stdout.split()
    if fields[:1] != ["BENCH"] or fields[2:3] != ["OK"]:
        raise FieldbenchError(f"bundle_verify bench: unexpected output {proc.stdout!r}")
    return float(fields[1])
