"""Coverage matrix, splits, augmentation and the sample workspace, on real generated data."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.dataset import CaptureQuality, Dataset
from core.dataset.augment import Augmentation, Augmenter, add_noise
from core.dataset.coverage import coverage_matrix
from core.dataset.splits import list_splits, load_split, make_split
from core.sample import ensure_sample_workspace


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    return ensure_sample_workspace(tmp_path / "sample").path


def test_the_sample_coverage_matrix_shows_its_deliberate_gaps(sample: Path) -> None:
    with Dataset.open(sample) as ds:
        m = coverage_matrix(ds)
    assert m.axes == ("temperature", "orientation")
    assert m.labels == ("normal", "imbalance", "background")
    assert m.cell(("ambient", "horizontal"), "normal") == (3, pytest.approx(6.0), False)
    assert m.cell(("cold", "vertical"), "normal") == (1, pytest.approx(2.0), True)
    gaps = set(m.gaps)
    assert (("hot", "inverted"), "normal") in gaps and (("hot", "inverted"), "imbalance") in gaps
    assert {(("cold", o), "imbalance") for o in ("horizontal", "vertical", "inverted")} <= gaps
    assert len(gaps) == 6  # the background column is never a gap
    assert "6 gap(s)" in m.table()


def test_coverage_counts_segments_under_their_own_labels(tmp_path: Path) -> None:
    from core.dataset import Segment

    with Dataset.open(tmp_path) as ds:
        ds.add_recording(
            np.zeros((1000, 1), np.int16), label=None, tags={"temperature": "hot",
            "orientation": "vertical", "noise": "quiet", "age": "new"}, sample_rate=100.0,
            channel_names=("x",), units="g", fixed_point_scale=1.0, session=ds.new_session(),
            segments=[Segment(0, 300, "normal"), Segment(300, 1000, "fault")],
        )  # fmt: skip
        m = coverage_matrix(ds)
    row = ("hot", "vertical", "quiet", "new")
    assert m.cell(row, "normal")[:2] == (1, pytest.approx(3.0))
    assert m.cell(row, "fault")[:2] == (1, pytest.approx(7.0))


def test_splits_keep_sessions_whole_and_are_reproducible(sample: Path) -> None:
    with Dataset.open(sample) as ds:
        a = make_split(ds, seed=5, name="a")
        b = make_split(ds, seed=5, name="b", save=False)
        c = make_split(ds, seed=6, save=False)
        for part in a.parts:
            np.testing.assert_array_equal(a.parts[part], b.parts[part])
        assert any(not np.array_equal(a.parts[p], c.parts[p]) for p in a.parts)
        session_part: dict[int, str] = {}
        for part, ids in a.parts.items():
            for rid in ids:
                s = ds.get(int(rid)).session
                assert session_part.setdefault(s, part) == part  # no session in two parts
        everything = np.concatenate(list(a.parts.values()))
        assert everything.size == np.unique(everything).size == 27  # background excluded
        assert all(a.parts[p].size > 0 for p in ("train", "val", "test"))
        assert list_splits(ds) == ["a", "sample-models"]  # the shipped split too
        saved = load_split(ds, "a")
        assert all(np.array_equal(saved.parts[p], a.parts[p]) for p in a.parts)


def test_the_validation_set_moves_toward_the_deployment_mix(tmp_path: Path) -> None:
    (tmp_path / "fieldbench.toml").write_text(
        "[dataset.deployment]\ntemperature = { hot = 0.5, cold = 0.5 }\n"
    )
    rng = np.random.default_rng(0)
    with Dataset.open(tmp_path) as ds:
        for i in range(60):
            temp = ("ambient", "ambient", "ambient", "hot", "cold")[i % 5]
            ds.add_recording(
                rng.integers(-100, 100, (100, 1), dtype=np.int16), label="normal",
                tags={"temperature": temp}, sample_rate=100.0, channel_names=("x",),
                units="g", fixed_point_scale=1.0, session=ds.new_session(),
            )  # fmt: skip
        plain = make_split(ds, seed=1, stratify=("temperature",), save=False)
        mirrored = make_split(ds, seed=1, stratify=("temperature",), mirror_deployment=True)
        temps = [ds.get(int(r)).tags["temperature"] for r in mirrored.parts["val"]]
    assert mirrored.mix_distance is not None and mirrored.mix_distance < 0.1
    assert set(temps) <= {"hot", "cold"} and temps.count("hot") == temps.count("cold")
    assert plain.parts["val"].size > 0 and plain.mix_distance is None


def test_augmentation_adds_recorded_noise_at_the_chosen_snr_without_touching_originals(
    sample: Path,
) -> None:
    with Dataset.open(sample) as ds:
        rid = int(ds.filter_ids(label="normal")[0])
        before = ds.get(rid).payload.read_bytes()
        clean = ds.load_physical(rid)
        spec = Augmentation(snr_db=(12.0, 12.0), gain=(1.0, 1.0), offset=(0.0, 0.0))
        aug = Augmenter(ds, spec, seed=4, noise_profiles=["machinery"])
        noisy = aug.recording(rid)
        again = Augmenter(ds, spec, seed=4, noise_profiles=["machinery"]).recording(rid)
        assert ds.get(rid).payload.read_bytes() == before
    np.testing.assert_array_equal(noisy, again)
    added = noisy - clean
    p_sig = np.mean((clean - clean.mean(axis=0)) ** 2)
    p_noise = np.mean((added - added.mean(axis=0)) ** 2)
    assert 10 * np.log10(p_sig / p_noise) == pytest.approx(12.0, abs=0.05)
    spectrum = np.abs(np.fft.rfft(added[:, 0]))
    assert np.argmax(spectrum) * 1600 / added.shape[0] == pytest.approx(50.0, abs=1.0)


def test_gain_and_offset_drift_and_time_shift(sample: Path) -> None:
    with Dataset.open(sample) as ds:
        rid = int(ds.filter_ids(label="imbalance")[0])
        x = ds.load_physical(rid)
        spec = Augmentation(snr_db=None, gain=(2.0, 2.0), offset=(0.5, 0.5), shift=0)
        y = Augmenter(ds, spec).recording(rid)
    np.testing.assert_allclose(y, 2 * x + 0.5)
    assert np.array_equal(add_noise(x, np.zeros_like(x), 10.0, np.random.default_rng()), x)


def test_the_cli_prints_coverage_and_saves_a_split(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dataset", "--workspace", str(sample), "coverage"]) == 0
    out = capsys.readouterr().out
    assert "6 gap(s)" in out and "temperature  orientation" in out
    assert main(["dataset", "--workspace", str(sample), "split", "--seed", "3"]) == 0
    assert "saved as 'seed3'" in capsys.readouterr().out
    assert main(["dataset", "--workspace", str(sample), "list", "--tag", "nope=1"]) == 2
    assert "tag 'nope' is not declared" in capsys.readouterr().err


TIMESTAMP_PATTERNS = [
    re.compile(rb"(19|20)\d\d-[01]\d-[0-3]\d[T ][0-2]\d:[0-5]\d"),  # ISO 8601 date-time
    re.compile(rb"(19|20)\d\d/[01]\d/[0-3]\d"),  # Serial Studio style dates
]


def test_no_file_of_a_workspace_holds_a_raw_timestamp_after_a_capture(sample: Path) -> None:
    with Dataset.open(sample) as ds:
        with ds.start_recording(
            label="normal", tags={"temperature": "hot"}, sample_rate=1600.0,
            channel_names=("accX", "accY", "accZ"), units="g", fixed_point_scale=8000.0,
            session=ds.new_session(), device_id="24:6F:28:12:34:56",
        ) as w:  # fmt: skip
            for _ in range(20):
                w.append(np.random.default_rng(1).integers(-99, 99, (512, 3), dtype=np.int16))
            w.finish(CaptureQuality(frames_received=20, declared_rate_hz=1600.0))
        make_split(ds, seed=1)
    now = int(time.time())
    epochs = {str(now + d)[:7].encode() for d in (-86400 * 400, 0, 86400 * 400)}
    seen = 0
    for path in sample.rglob("*"):
        if not path.is_file() or (path.suffix == ".csv" and path.parent.name == "recordings"):
            continue  # the legacy feature-tab CSV has relative millisecond stamps only
        raw = path.read_bytes()
        seen += 1
        for pattern in TIMESTAMP_PATTERNS:
            assert not pattern.search(raw), f"{path} holds a date"
        if path.suffix in (".sqlite", ".toml", ".npy") or "catalog" in path.name:
            text = raw if path.suffix != ".npy" else raw[:128]
            for prefix in epochs:
                assert prefix not in text, f"{path} holds an epoch time near now"
            assert b"24:6F:28:12:34:56" not in raw
    assert seen >= 30
