"""The ``fieldbench`` command: the GUI without arguments, headless subcommands otherwise."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

import core
from core.errors import FieldbenchError

log = logging.getLogger("fieldbench")

# Packages that add subcommands. Each module has ``register(subparsers)``, which adds its
# parsers and sets ``run=callable(args) -> int`` as a parser default. Imports inside the
# ``run`` functions stay lazy so ``fieldbench --help`` is fast.
COMMAND_MODULES: tuple[str, ...] = (
    "core.capture.cli",
    "core.model.cli",
    "core.dataset.cli",
    "core.bundle.cli",
    "core.twin.cli",
    "core.train.cli",
    "core.device.cli",
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fieldbench",
        description="Fieldbench: TinyML pipelines for ESP32-S3 sensor nodes. "
        "Without a command, opens the desktop app.",
    )
    p.add_argument("--version", action="version", version=f"fieldbench {core.__version__}")
    p.add_argument("--self-test", action="store_true", help="check the installation and exit")
    p.add_argument("--workspace", type=Path, help="open this workspace in the app")
    p.add_argument("--sample", action="store_true", help="open the built-in sample workspace")
    p.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    f = sub.add_parser(
        "features",
        help="compute fixed-point feature frames of a recording",
        description="Compute the fixed-point feature frames (docs/dsp.md) of a WAV, CSV or NPY "
        "recording and save them as an int16 .npy array (frames × features).",
    )
    f.add_argument("input", type=Path, help="recording: .wav, .csv or .npy")
    f.add_argument(
        "--config",
        type=Path,
        required=True,
        help="TOML with a [features] table (a workspace's fieldbench.toml works)",
    )
    f.add_argument("--out", type=Path, required=True, help="output .npy file")
    f.add_argument("--rate", type=float, help="sample rate (Hz) for files that carry none")
    f.add_argument(
        "--compare", action="store_true", help="also print the SNR against the float reference"
    )
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return p


GuiRunner = Callable[[Path | None, bool], int]
Check = Callable[[], bool]


def main(
    argv: Sequence[str] | None = None,
    gui_runner: GuiRunner | None = None,
    extra_checks: dict[str, Check] | None = None,
) -> int:
    """Run the CLI; ``gui_runner`` (given by ``gui.launcher``) opens the app when no command.

    ``extra_checks`` lets the GUI package add its own self-test checks (Qt), which core may
    not import.
    """
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    try:
        if args.self_test:
            return _self_test(extra_checks or {})
        if args.command == "features":
            return _features(args)
        run = getattr(args, "run", None)
        if run is not None:
            return int(run(args))
    except FieldbenchError as exc:
        print(f"fieldbench: error: {exc}", file=sys.stderr)
        return 2
    if gui_runner is None:
        print("fieldbench: error: no command given (see --help)", file=sys.stderr)
        return 2
    return gui_runner(args.workspace, args.sample)


def _features(args: argparse.Namespace) -> int:
    from core.atomic import atomic_save_npy
    from core.dsp import PreprocessingConfig, extract_features, reference_features
    from core.dsp.reference import feature_snr_db
    from core.errors import InputFileError
    from core.recording import load_for_features

    config = PreprocessingConfig.load(args.config)
    if args.out.suffix != ".npy":
        raise InputFileError(f"{args.out}: the output must be a .npy file")
    samples = load_for_features(args.input, config, sample_rate=args.rate)
    frames = extract_features(samples, config)
    atomic_save_npy(args.out, frames)
    print(f"{args.out}: {frames.shape[0]} frames × {frames.shape[1]} features (int16)")
    if args.compare:
        ref = reference_features(samples, config)
        print(f"feature SNR vs float64 reference: {feature_snr_db(frames, ref):.1f} dB")
    return 0


def _self_test(extra_checks: dict[str, Check]) -> int:
    """Checks a packaged or fresh install: imports, the DSP path, the native library."""
    from core.dsp import PreprocessingConfig, StreamingExtractor, extract_features
    from core.signals import SignalGenerator

    cfg = PreprocessingConfig(sampleRate=16000.0, windowSize=512, hopLength=256)
    x = np.clip(np.rint(SignalGenerator("chirp", 16000.0).next(16000)), -32768, 32767)
    samples = x.astype(np.int16)
    batch = extract_features(samples, cfg)
    stream = StreamingExtractor(cfg)
    streamed = np.concatenate([stream.push(samples[i : i + 1000]) for i in range(0, 16000, 1000)])
    checks = {"batch == streaming": bool(np.array_equal(batch, streamed))}
    try:
        import onnxruntime  # noqa: F401

        checks["onnxruntime import"] = True
    except ImportError:
        checks["onnxruntime import"] = False
    for name, check in extra_checks.items():
        checks[name] = check()
    from core.dsp.native import NativeUnavailable, native_extractor

    try:
        native = native_extractor(cfg)
        checks["native == numpy"] = bool(np.array_equal(native.extract_features(samples), batch))
    except NativeUnavailable as exc:
        print(f"note: {exc}")
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
