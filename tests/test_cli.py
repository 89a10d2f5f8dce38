"""The fieldbench command line: features, --version, --self-test, errors on stderr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import core
from core.cli import main
from core.dsp import extract_features
from core.recording import load_recording, to_counts
from core.sample import ensure_sample_workspace


@pytest.fixture
def sample(tmp_path: Path):
    return ensure_sample_workspace(tmp_path / "sample")


def test_features_writes_the_same_frames_as_the_library(sample, tmp_path: Path, capsys) -> None:
    rec_path = sample.recordings_dir / "fan_low_normal.csv"
    out = tmp_path / "f.npy"
    assert (
        main(["features", str(rec_path), "--config", str(sample.config_path), "--out", str(out)])
        == 0
    )
    want = extract_features(to_counts(load_recording(rec_path), 8000.0), sample.features)
    assert np.array_equal(np.load(out), want)
    assert "frames" in capsys.readouterr().out


def test_features_compare_prints_snr(sample, tmp_path: Path, capsys) -> None:
    rec = sample.recordings_dir / "fan_medium_normal.wav"
    args = [
        "features",
        str(rec),
        "--config",
        str(sample.config_path),
        "--out",
        str(tmp_path / "o.npy"),
    ]
    assert main([*args, "--compare"]) == 0
    assert "dB" in capsys.readouterr().out


def test_a_bad_input_file_is_one_line_on_stderr_and_nothing_written(
    sample, tmp_path: Path, capsys
) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....garbage")
    out = tmp_path / "never.npy"
    code = main(["features", str(bad), "--config", str(sample.config_path), "--out", str(out)])
    err = capsys.readouterr().err
    assert code != 0 and err.startswith("fieldbench: error: ") and err.count("\n") == 1
    assert "bad.wav" in err and not out.exists()


def test_a_bad_config_names_the_key(sample, tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[features]\nsampleRate = 1600.0\nwindowSize = 256\nfftSize = 100\n")
    rec = sample.recordings_dir / "fan_low_normal.csv"
    assert main(["features", str(rec), "--config", str(cfg), "--out", str(tmp_path / "o.npy")]) == 2
    assert "fftSize = 100: must be a power of two" in capsys.readouterr().err


def test_channel_mismatch_is_refused(sample, tmp_path: Path, capsys) -> None:
    mono = tmp_path / "mono.npy"
    np.save(mono, np.zeros(5000, dtype=np.int16))
    assert (
        main(
            [
                "features",
                str(mono),
                "--config",
                str(sample.config_path),
                "--out",
                str(tmp_path / "o.npy"),
            ]
        )
        == 2
    )
    assert "has 1 channel(s)" in capsys.readouterr().err


def test_console_script_reports_version_and_help() -> None:
    exe = Path(sys.executable).with_name("fieldbench")
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"fieldbench {core.__version__}"
    helptext = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    assert "features" in helptext.stdout


def test_self_test_passes_on_this_install() -> None:
    exe = Path(sys.executable).with_name("fieldbench")
    result = subprocess.run(
        [str(exe), "--self-test"],
        capture_output=True,
        text=True,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   batch == streaming" in result.stdout


def test_a_rate_given_for_a_rateless_file_must_match_the_config(sample, tmp_path: Path, capsys):
    rec = tmp_path / "x.npy"
    np.save(rec, np.zeros((5000, 3), dtype=np.float32))
    args = ["features", str(rec), "--config", str(sample.config_path)]
    assert main([*args, "--out", str(tmp_path / "o.npy"), "--rate", "800"]) == 2
    assert "800 Hz does not match features.sampleRate 1600" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "o.npy"), "--rate", "1600"]) == 0


def test_a_recording_shorter_than_one_segment_writes_nothing(sample, tmp_path: Path, capsys):
    rec = tmp_path / "short.npy"
    np.save(rec, np.zeros((100, 3), dtype=np.float32))
    out = tmp_path / "o.npy"
    assert main(["features", str(rec), "--config", str(sample.config_path), "--out", str(out)]) == 2
    assert "shorter than one segment" in capsys.readouterr().err and not out.exists()
