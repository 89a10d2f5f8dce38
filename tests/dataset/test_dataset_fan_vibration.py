"""Real data: ESP32 + MSA301 recordings of a ceiling fan (../shared/data/fan-vibration).

Read from beside the checkout, never copied into the repository; skipped when absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.dataset import Dataset
from core.dataset.coverage import coverage_matrix
from core.dataset.splits import make_split
from core.model.samples import FAN_FILES
from core.paths import fan_vibration_dir

DATA = fan_vibration_dir()
#: file → (speed, label), from the data set's README (one map: core.model.samples.FAN_FILES)
FILES = {f: (speed, "imbalance" if bad else "normal") for (speed, bad), f in FAN_FILES.items()}
WINDOWS = 24  # per file: enough for coverage and splits, fast enough for every test run

pytestmark = pytest.mark.skipif(
    not all((DATA / f).is_file() for f in FILES),
    reason=f"real fan-vibration data not found at {DATA} (it lives beside the checkout)",
)

TOML = """
[dataset]
labels = ["normal", "imbalance"]
[dataset.tags.speed]
values = ["off", "low", "medium", "high"]
description = "ceiling-fan speed setting"
[dataset.coverage]
axes = ["speed"]
minRecordings = 10
"""


@pytest.fixture(scope="module")
def fan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fan")
    (root / "fieldbench.toml").write_text(TOML)
    with Dataset.open(root) as ds, ds.transaction():
        for name, (speed, label) in FILES.items():
            x = np.load(DATA / name)["X"][:WINDOWS]  # (windows, 200, 3) in g
            session = ds.new_session()  # one file = one sitting at one speed
            for window in x:
                ds.add_recording(
                    np.rint(window.astype(np.float64) * 8000.0).astype(np.int16),
                    label=label,
                    tags={"speed": speed, "orientation": "horizontal"},
                    sample_rate=200.0,
                    channel_names=("accX", "accY", "accZ"),
                    units="g",
                    fixed_point_scale=8000.0,
                    session=session,
                    device_id="huzzah32-msa301",
                    source="import:npz",
                )
    return root


def test_the_real_fan_data_imports_with_speed_and_state_as_tags(fan: Path) -> None:
    with Dataset.open(fan) as ds:
        assert ds.count() == 7 * WINDOWS
        high = ds.recordings(label="imbalance", tags={"speed": "high"})
        assert len(high) == WINDOWS and all(r.duration_s == 1.0 for r in high)
        z = np.asarray(ds.load_physical(high[0].id))[:, 2]
        assert 0.8 < float(np.median(z)) < 1.2  # gravity on z, as the README says


def test_the_real_fan_coverage_shows_no_imbalance_recorded_with_the_fan_off(fan: Path) -> None:
    with Dataset.open(fan) as ds:
        m = coverage_matrix(ds)
    assert m.rows == (("off",), ("low",), ("medium",), ("high",))
    assert m.cell(("medium",), "normal") == (WINDOWS, pytest.approx(WINDOWS * 1.0), False)
    assert m.gaps == [(("off",), "imbalance")]


def test_the_real_fan_split_keeps_each_recording_sitting_in_one_part(fan: Path) -> None:
    with Dataset.open(fan) as ds:
        split = make_split(ds, seed=0, stratify=("speed",))
        parts = {p: {ds.get(int(r)).session for r in ids} for p, ids in split.parts.items()}
    assert parts["train"].isdisjoint(parts["val"]) and parts["train"].isdisjoint(parts["test"])
    assert parts["val"].isdisjoint(parts["test"])
    assert sum(len(s) for s in parts.values()) == 7
    assert all(parts[p] for p in ("train", "val", "test"))
