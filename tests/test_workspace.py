"""Workspaces: a plain folder with fieldbench.toml, validated with errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.dsp import PreprocessingConfig
from core.errors import WorkspaceError
from core.sample import ensure_sample_workspace
from core.workspace import CONFIG_NAME, Workspace


def test_create_then_open_round_trips(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "ws", "Bench A")
    again = Workspace.open(tmp_path / "ws")
    assert again.name == "Bench A" and again.features == ws.features
    assert "[features]" in (tmp_path / "ws" / CONFIG_NAME).read_text()


def test_create_refuses_to_overwrite_a_workspace(tmp_path: Path) -> None:
    Workspace.create(tmp_path, "one")
    with pytest.raises(WorkspaceError, match="already holds a workspace"):
        Workspace.create(tmp_path, "two")


def test_open_a_plain_folder_says_it_is_not_a_workspace(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="not a workspace"):
        Workspace.open(tmp_path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("fftSize = 256", "fftSize = 300"), "features.fftSize = 300: must be a power of two"),
        (('window = "hann"', 'window = "kaiser"'), "must be one of 'hann', 'rectangular'"),
        (("[workspace]", "[workspace]\ncolour = 1"), "workspace.colour: unknown key"),
        (("\n[features]\n", "\n[plugins]\n[features]\n"), "plugins: unknown table"),
        (("sampleRate = 1600.0", "sampleRate = = 1"), "not valid TOML"),
    ],
)
def test_bad_config_names_the_file_and_key(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    ws = ensure_sample_workspace(tmp_path / "s")
    text = ws.config_path.read_text()
    assert edit[0] in text
    ws.config_path.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(WorkspaceError) as info:
        Workspace.open(ws.path)
    assert message in str(info.value) and CONFIG_NAME in str(info.value)


def test_set_features_saves_atomically_and_reopens(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path, "x")
    cfg = PreprocessingConfig(sampleRate=8000.0, windowSize=128, stats=("rms",))
    ws.set_features(cfg)
    assert Workspace.open(tmp_path).features == cfg
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_sample_workspace_has_recordings_that_match_its_config(tmp_path: Path) -> None:
    from core.recording import check_sample_rate, load_recording

    ws = ensure_sample_workspace(tmp_path / "sample")
    assert len(ws.recordings()) == 3
    for path in ws.recordings():
        rec = load_recording(path, sample_rate=ws.features.sampleRate)
        check_sample_rate(rec, ws.features.sampleRate)
        assert rec.channels == ws.features.channels


def test_a_sample_workspace_from_another_version_is_rebuilt(tmp_path: Path) -> None:
    from core.sample import SAMPLE_MARKER, ensure_sample_workspace

    dest = tmp_path / "sample"
    ensure_sample_workspace(dest)
    (dest / "fieldbench.toml").write_text('[workspace]\nname = "old sample"\nformat = 1\n')
    (dest / SAMPLE_MARKER).write_text("an older version\n")
    ws = ensure_sample_workspace(dest)
    assert ws.name.startswith("Sample")  # the current config is back
    assert (dest / "dataset" / "catalog.sqlite").exists()
    before = (dest / "fieldbench.toml").stat().st_mtime_ns
    ensure_sample_workspace(dest)  # same version: left alone
    assert (dest / "fieldbench.toml").stat().st_mtime_ns == before
