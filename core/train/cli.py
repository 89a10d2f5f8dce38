"""``fieldbench train``: train, quantize (PTQ and QAT) and calibrate thresholds headlessly."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.train.config import FAMILIES, PROFILE_FALSE_ALARM


def register(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="train a model on the workspace's dataset, with QAT (needs fieldbench[train])",
        description="Train a model family on the workspace's dataset (grouped, stratified split, "
        "on-the-fly augmentation), quantize it with PTQ and with quantization-aware training, "
        "print the float / PTQ / QAT table and save the model, its validation report and "
        "thresholds in the workspace. Hyper-parameters come from the [train] table of "
        "fieldbench.toml; options given here override them.",
    )
    p.add_argument("workspace", type=Path, help="workspace folder")
    p.add_argument("--family", choices=sorted(FAMILIES), help="model family")
    p.add_argument("--name", help="model name in the workspace (default trained_<family>)")
    p.add_argument("--epochs", type=int, help="float training epochs")
    p.add_argument("--qat-epochs", type=int, help="QAT fine-tuning epochs (0: PTQ only)")
    p.add_argument("--seed", type=int, help="training seed")
    p.add_argument("--split-seed", type=int, help="dataset split seed")
    p.add_argument("--target-far", type=float, help="target false-alarm rate (all profiles)")
    p.add_argument(
        "--profile",
        action="append",
        choices=sorted(PROFILE_FALSE_ALARM),
        help="deployment profile(s) to calibrate thresholds for (repeatable)",
    )
    p.add_argument("--no-augment", action="store_true", help="train without augmentation")
    p.add_argument(
        "--save-config", action="store_true", help="store these options in the [train] table"
    )
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from core.train.backend import require_torch
    from core.train.config import load_train_config
    from core.workspace import Workspace

    ws = Workspace.open(args.workspace)
    config = load_train_config(ws.raw)
    changes: dict[str, Any] = {}
    for arg, key in (
        ("family", "family"),
        ("name", "name"),
        ("epochs", "epochs"),
        ("qat_epochs", "qat_epochs"),
        ("seed", "seed"),
        ("split_seed", "split_seed"),
        ("target_far", "target_false_alarm"),
    ):
        value = getattr(args, arg)
        if value is not None:
            changes[key] = value
    if args.profile:
        changes["profiles"] = tuple(args.profile)
    if args.no_augment:
        changes["augment"] = False
    config = config.replace(**changes)
    if args.save_config:
        ws.raw["train"] = config.to_mapping()
        ws.save()
    require_torch()
    from core.train.pipeline import run_training

    def epoch(record: Any) -> None:
        print(
            f"{record.phase:<5} epoch {record.epoch:>3}/{record.epochs}  "
            f"train loss {record.train_loss:.4f}  val loss {record.val_loss:.4f}",
            flush=True,
        )

    result = run_training(ws.path, ws.features, config, on_epoch=epoch)
    print()
    print("\n".join(result.table_lines()))
    print()
    print(f"model:      {result.model_dir}")
    print(f"report:     {result.report_path}")
    print(f"thresholds: {result.thresholds_path}")
    for note in result.notes:
        print(f"note: {note}")
    return 0
