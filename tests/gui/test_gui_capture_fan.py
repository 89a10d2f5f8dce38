"""The Capture tab over the real fan recordings (../shared/data/fan-vibration): coverage, split.

Read from beside the checkout, never copied into the repository; skipped when absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.dataset import Dataset
from core.dataset.schema import DatasetConfig
from core.model.samples import FAN_FILES
from core.paths import fan_vibration_dir
from core.workspace import Workspace
from gui.main_window import MainWindow

DATA = fan_vibration_dir()
#: file → (speed, label), from the data set's README (one map: core.model.samples.FAN_FILES)
FILES = {f: (speed, "imbalance" if bad else "normal") for (speed, bad), f in FAN_FILES.items()}
WINDOWS = 12

pytestmark = [
    pytest.mark.gui,
    pytest.mark.skipif(
        not all((DATA / f).is_file() for f in FILES),
        reason=f"real fan-vibration data not found at {DATA} (it lives beside the checkout)",
    ),
]


@pytest.fixture
def fan_workspace(tmp_path: Path) -> Workspace:
    ws = Workspace.create(tmp_path / "fan", "fan vibration (real)")
    ws.set_dataset(
        DatasetConfig.from_mapping(
            {
                "labels": ["normal", "imbalance"],
                "tags": {"speed": {"values": ["off", "low", "medium", "high"]}},
                "coverage": {"axes": ["speed"], "minRecordings": 10},
            }
        )
    )
    with Dataset.open(ws.path) as ds, ds.transaction():
        for name, (speed, label) in FILES.items():
            x = np.load(DATA / name)["X"][:WINDOWS]  # (windows, 200, 3) in g
            session = ds.new_session()  # one file = one sitting at one speed
            for window in x:
                ds.add_recording(
                    np.rint(window.astype(np.float64) * 8000.0).astype(np.int16),
                    label=label,
                    tags={"speed": speed},
                    sample_rate=200.0,
                    channel_names=("accX", "accY", "accZ"),
                    units="g",
                    fixed_point_scale=8000.0,
                    session=session,
                    source="import",
                )
    return ws


def test_the_real_fan_recordings_show_their_coverage_and_split_by_session(
    window: MainWindow, fan_workspace: Workspace
) -> None:
    window.set_workspace(fan_workspace)
    tab = window.capture_tab
    window.tabs.setCurrentWidget(tab)
    assert tab.recordings.model.rowCount() == WINDOWS * len(FILES)
    assert [tab.tag_form.combos["speed"].itemText(i) for i in range(5)][1:] == [
        "off",
        "low",
        "medium",
        "high",
    ]
    m = tab.coverage.matrix
    assert m is not None and m.axes == ("speed",)
    # the fan was never run imbalanced while off: the only gap
    assert m.gaps == [(("off",), "imbalance")]
    row = m.rows.index(("off",))
    assert tab.coverage.table.item(row, m.labels.index("imbalance")).text() == "! 0"
    assert tab.coverage.table.item(m.rows.index(("low",)), 0).text() == f"{WINDOWS} · 12.0 s"
    # split: one file is one session, so no file straddles two parts
    tab.splits.seed.setValue(5)
    split = tab.splits.resplit()
    assert split is not None
    assert sum(tab.splits.counts().values()) == WINDOWS * len(FILES)
    with Dataset.open(fan_workspace.path) as ds:
        part_of_session: dict[int, set[str]] = {}
        for part, ids in split.parts.items():
            for rid in ids:
                part_of_session.setdefault(ds.get(int(rid)).session, set()).add(part)
    assert all(len(parts) == 1 for parts in part_of_session.values())
