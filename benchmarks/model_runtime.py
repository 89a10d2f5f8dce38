"""C++ INT8 runtime figures: callgrind instructions per inference and per MAC (-O2 reference
kernels, the host Release build), stack high-water mark and heap allocations of inference.

Runs ``rt_probe`` (firmware/host/tools) on the built-in sample blobs and on blobs written from
the core.model test models (QDQ via onnxruntime.quantization). Instructions per inference are
the difference of two callgrind runs with different run counts (setup cancels out).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("FIELDBENCH_HOST_BUILD", ROOT / "build" / "host"))
PROBE = BUILD / "rt_probe"
RUNS = (5, 55)


def _callgrind_ir(args: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg", *args],
            capture_output=True,
            text=True,
            check=True,
        )
    m = re.search(r"Collected : (\d+)", out.stderr)
    if m is None:
        raise RuntimeError("callgrind printed no instruction count")
    return int(m.group(1))


def _blobs(tmp: Path) -> list[tuple[str, Path]]:
    subprocess.run([str(PROBE), "--write-blobs", str(tmp)], check=True)
    blobs = [(p.stem, p) for p in sorted(tmp.glob("*.fbim"))]
    sys.path.insert(0, str(ROOT))
    from core.model import testmodels as tm
    from core.model.blob import write_blob
    from core.model.extract import extract
    from core.model.ir import Postprocess

    for name in ("autoencoder", "conv1d", "dscnn1d", "addpool"):
        float_model = tm.BUILDERS[name](batch="N")
        qdq = tm.quantize_qdq(float_model, tm.test_inputs(float_model, 128, seed=1))
        post = Postprocess.RECON_MSE if name == "autoencoder" else Postprocess.ARGMAX
        model = extract(qdq, input_scale=1 / 256, postprocess=post, name=name)
        path = tmp / f"ort_{name}.fbim"
        path.write_bytes(write_blob(model))
        blobs.append((f"ort_{name}", path))
    return blobs


def main() -> None:
    print("== C++ INT8 runtime (reference kernels, host -O2) ==")
    if not PROBE.is_file():
        print(f"  rt_probe missing ({PROBE}); run `make test` first")
        return
    have_valgrind = shutil.which("valgrind") is not None
    with tempfile.TemporaryDirectory() as tmpdir:
        for name, path in _blobs(Path(tmpdir)):
            line = subprocess.run(
                [str(PROBE), "--blob", str(path), "--runs", "200"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            info = json.loads(line)
            row = (
                f"  {name:24s} MACs {info['macs']:7d}  pool {info['pool_bytes']:6d} B  "
                f"stack {info['stack_inference_bytes']:5d} B (thread total "
                f"{info['stack_high_water_bytes']})  "
                f"heap allocs {info['heap_allocs_during_inference']}"
                f"  {info['ns_per_inference'] / 1000:8.2f} us/inference"
            )
            if have_valgrind:
                base = [str(PROBE), "--blob", str(path), "--no-timing", "--runs"]
                lo = _callgrind_ir([*base, str(RUNS[0])])
                hi = _callgrind_ir([*base, str(RUNS[1])])
                per = (hi - lo) / (RUNS[1] - RUNS[0])
                row += f"  {per:10.0f} instr/inference  {per / max(info['macs'], 1):6.2f} instr/MAC"
            print(row)
    if not have_valgrind:
        print("  (valgrind not installed: no instruction counts)")


if __name__ == "__main__":
    main()
