"""Regenerate resources/models/ (the sample float ONNX models) reproducibly.

    .venv/bin/python scripts/make_sample_models.py [--out resources/models]

Seeded numpy training on the SAMPLE WORKSPACE's dataset (generated in a temporary folder by
core.sample, split with seed 7 into 60/20/20 % by capture session; the models see the train
part through the workspace's fixed-point [features]). The autoencoder's device budget (pool
incl. the front-end, latency estimate) goes into models.json. Running it twice writes identical
files (core.model.samples.build_sample_models); no torch needed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.model.samples import build_sample_models  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "models")
    args = parser.parse_args()
    manifest = build_sample_models(args.out)
    for _name, info in manifest.items():
        print(f"{args.out / str(info['file'])}: {info['task']}, input {info['input_shape']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
