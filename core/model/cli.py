"""``fieldbench quantize`` and ``fieldbench validate``.

Both print a readable summary (overall, strata, layers, flagged layers) and save the report
under ``<workspace>/reports/quantization/<model>/``. Validation data, one of:

* ``--split NAME``: the workspace's dataset (``core.model.datasets``) — calibration rows from the
  split's train part (drawn stratified across tags and labels), validation rows from ``--part``
  (default ``val``), features from the workspace's ``[features]``, tags and labels from the
  catalog;
* ``--data D.npz``: an ``EvalSet`` (int16 ``features``, ``input_scale``, ``labels``, ``tags_json``);
* nothing, for the sample models in resources/models: their generated held-out sets.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    q = sub.add_parser(
        "quantize",
        help="quantize a float ONNX model to INT8 and validate it",
        description="Quantize a float ONNX model with onnxruntime (QDQ, per-channel int8 "
        "weights, int8 activations), validate float vs INT8 overall and per stratum, and save "
        "the report in the workspace.",
    )
    q.add_argument("model", type=Path, help="float ONNX model (opset 13+, static shapes)")
    _common(q)
    q.add_argument(
        "--calibration",
        choices=("minmax", "percentile", "entropy"),
        default="minmax",
        help="calibration method (default minmax)",
    )
    q.add_argument(
        "--calibration-size", type=int, default=512, help="calibration windows (stratified)"
    )
    q.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="TENSOR=RMIN:RMAX",
        help="set one activation tensor's float range (repeatable)",
    )
    q.add_argument("--out", type=Path, required=True, help="output QDQ INT8 ONNX model")
    q.add_argument(
        "--fix", action="store_true", help="apply every proposed fix once and validate again"
    )
    q.set_defaults(run=_run_quantize)

    v = sub.add_parser(
        "validate",
        help="compare a float model with its INT8 model, overall and per stratum",
        description="Validate an INT8 QDQ model against its float model and save the report.",
    )
    v.add_argument("model", type=Path, help="float ONNX model")
    v.add_argument("quantized", type=Path, help="INT8 QDQ ONNX model made from it")
    _common(v)
    v.set_defaults(run=_run_validate)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", type=Path, required=True, help="workspace folder (reports)")
    p.add_argument("--data", type=Path, help="evaluation set .npz (see fieldbench docs)")
    p.add_argument(
        "--split",
        metavar="NAME",
        help="use the workspace's dataset: a split saved by 'fieldbench dataset split'",
    )
    p.add_argument(
        "--part",
        choices=("train", "val", "test"),
        default="val",
        help="the split's part to validate on (default val; calibration uses train)",
    )
    p.add_argument("--threshold", type=float, help="anomaly decision threshold (float32)")


def _data(args: argparse.Namespace, model_path: Path, ws: Any) -> tuple[Any, Any]:
    """``(validation set, calibration set or None)`` for the options given."""
    from core.errors import InputFileError
    from core.model import samples
    from core.model.calibration import EvalSet

    if args.split is not None and args.data is not None:
        raise InputFileError("give either --split (the workspace's dataset) or --data, not both")
    if args.split is not None:
        from core.model.datasets import workspace_sets
        from core.model.onnx_io import load_model
        from core.model.report import detect_task

        fm = load_model(model_path)
        sets = workspace_sets(
            ws,
            args.split,
            sample_shape=fm.sample_shape,
            part=args.part,
            task=detect_task(fm),
        )
        return sets.validation, sets.calibration
    if args.data is not None:
        return EvalSet.load(args.data), None
    stem = model_path.stem
    if stem == samples.AUTOENCODER_NAME:
        return samples.sample_anomaly_set(), None
    if stem == samples.CLASSIFIER_NAME:
        return samples.sample_classifier_set(), None
    raise InputFileError(
        f"{model_path.name}: no evaluation data; pass --split NAME (a split of the workspace's "
        "dataset) or --data D.npz with int16 features shaped like the model input, "
        "input_scale, labels and tags_json"
    )


def _workspace(path: Path) -> Any:
    from core.workspace import Workspace

    return Workspace.open(path)


def _features(model_path: Path, ws: Any, split: str | None = None) -> Any:
    """The front-end config for the pool budget: the sample one for sample models."""
    from core.model import samples

    if split is None and model_path.stem in (samples.AUTOENCODER_NAME, samples.CLASSIFIER_NAME):
        return samples.SAMPLE_FEATURES
    return ws.features


def _run_quantize(args: argparse.Namespace) -> int:
    from core.model.calibration import CalibrationMethod
    from core.model.quantize import QuantizeOptions, parse_override
    from core.model.report import (
        QuantizationJob,
        ValidationConfig,
        fix_and_revalidate,
        run_job,
        save_report,
        summary_lines,
    )

    ws = _workspace(args.workspace)
    overrides = dict(parse_override(o) for o in args.override)
    options = QuantizeOptions(
        method=CalibrationMethod.parse(args.calibration),
        calibration_size=args.calibration_size,
        overrides=overrides,
    )
    validation, calibration = _data(args, args.model, ws)
    job = QuantizationJob(
        args.model,
        validation,
        args.out,
        options,
        ValidationConfig(threshold=args.threshold),
        calibration=calibration,
        features=_features(args.model, ws, args.split),
    )
    result = run_job(job)
    if args.fix and result.report.flags:
        print(f"applying {len(result.report.flags)} proposed fix(es) and validating again")
        result = fix_and_revalidate(result)
    path = save_report(result.report, ws.path)
    print("\n".join(summary_lines(result.report.to_dict())))
    print(f"INT8 model: {result.quantized.qdq_path}")
    print(f"report: {path}")
    return 0 if result.report.passed else 1


def _run_validate(args: argparse.Namespace) -> int:
    from core.model.report import ValidationConfig, save_report, summary_lines, validate

    ws = _workspace(args.workspace)
    report = validate(
        args.model,
        args.quantized,
        _data(args, args.model, ws)[0],
        ValidationConfig(threshold=args.threshold),
        features=_features(args.model, ws, args.split),
    )
    path = save_report(report, ws.path)
    print("\n".join(summary_lines(report.to_dict())))
    print(f"report: {path}")
    return 0 if report.passed else 1
