"""The Bundles tab's compose form: the seed's ``DeploymentBundle`` fields, the target, the
validation report and the six component files, turned into the mapping a bundle spec TOML holds
(``core.bundle.build.BundleSpec.from_mapping``), so the form and a spec file are one thing.

``scan_workspace`` finds the artefacts a workspace already has (INT8 models, their validation
reports and versioned thresholds) so the common case is "pick the model, pick a key, build".
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.bundle.build import SPEC_COMPONENT_KEYS
from core.bundle.format import COMPONENTS
from core.bundle.profiles import PROFILES
from core.bundle.registry import BundleRegistry
from core.errors import FieldbenchError, InputFileError
from core.model.report import BLOB_NAME, REPORTS_DIR

COMPONENT_TITLES = {
    "firmware": "Firmware app image",
    "model": "Model (INT8)",
    "thresholds": "Thresholds",
    "calibration": "Calibration constants",
    "drift_baseline": "Drift baseline",
    "selftest": "Self-test vectors",
}
COMPONENT_HINTS = {
    "firmware": "the app .bin from the firmware build (idf.py build → build/<app>.bin)",
    "model": "reports/quantization/<name>/model.fbm, the runtime blob of the INT8 model the "
    "validation report is about",
    "thresholds": "thresholds/<model>/thresh-vN.json from a training run",
    "calibration": "the sensor calibration constants file",
    "drift_baseline": "per-feature statistics of the training data",
    "selftest": "self-test vectors with their expected outputs",
}
# The seed's DeploymentBundle example.
DEFAULTS: dict[str, Any] = {
    "bundleId": "edge-inference-v2.4.1",
    "firmwareVersion": "fw-1.8.0",
    "modelVersion": "int8-anomaly-detect-0.9.2",
    "thresholdVersion": "thresh-v3",
    "calibrationVersion": "calib-v2",
    "rollbackTarget": "edge-inference-v2.3.0",
    "versionNumbers": [264, 92, 3, 2],
    "profile": "safety-critical",
    "epoch": 4,
    "metadata": {
        "targetEnvironment": ["indoor", "outdoor", "thermal_-20_to_60"],
        "minBatteryLevel": 15,
        "maxLatencyMs": 45,
        "peakRamBudgetBytes": 12288,
    },
    "target": {
        "boardId": "esp32-s3-devkitc-1",
        "flashSize": 8 * 1024 * 1024,
        "abiRange": [1, 2],
        "firmwareAbi": 1,
    },
}
_THRESH = re.compile(r"^thresh-v(\d+)\.json$")


@dataclass
class ModelArtefacts:
    """What a workspace holds for one model."""

    name: str
    model: Path | None = None
    report: Path | None = None
    thresholds: Path | None = None
    threshold_version: str | None = None


@dataclass
class WorkspaceArtefacts:
    models: dict[str, ModelArtefacts] = field(default_factory=dict)
    bundle_ids: list[str] = field(default_factory=list)


def scan_workspace(root: Path) -> WorkspaceArtefacts:
    """INT8 models, validation reports and latest thresholds per model; built bundle ids."""
    out = WorkspaceArtefacts()

    def get(name: str) -> ModelArtefacts:
        return out.models.setdefault(name, ModelArtefacts(name))

    models = root / "models"
    if models.is_dir():
        for d in sorted(p for p in models.iterdir() if p.is_dir() and not p.name.startswith(".")):
            int8 = d / f"{d.name}-int8.onnx"
            if int8.is_file():
                get(d.name).model = int8
    reports = root / REPORTS_DIR
    if reports.is_dir():
        for d in sorted(p for p in reports.iterdir() if (p / "report.json").is_file()):
            art = get(d.name)
            art.report = d / "report.json"
            if (d / BLOB_NAME).is_file():  # the runtime blob the device runs: preferred
                art.model = d / BLOB_NAME
    thresholds = root / "thresholds"
    if thresholds.is_dir():
        for d in sorted(p for p in thresholds.iterdir() if p.is_dir()):
            found = [(int(m.group(1)), f) for f in d.iterdir() if (m := _THRESH.match(f.name))]
            if found:
                n, path = max(found)
                art = get(d.name)
                art.thresholds, art.threshold_version = path, f"thresh-v{n}"
    try:
        out.bundle_ids = [e.bundle_id for e in BundleRegistry(root).entries()]
    except FieldbenchError:
        out.bundle_ids = []
    return out


class FileField(QWidget):
    """A path line edit with a browse button; ``changed`` on every edit."""

    changed = Signal()

    def __init__(self, title: str, hint: str, filters: str = "All files (*)") -> None:
        super().__init__()
        self.title = title
        self.filters = filters
        self.start_dir = ""
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(hint)
        self.edit.setToolTip(hint)
        self.edit.textChanged.connect(self.changed)
        browse = QToolButton()
        browse.setText("…")
        browse.setToolTip(f"Choose the {title.lower()} file")
        browse.clicked.connect(self.browse)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(browse)

    def browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.title, self.start_dir, self.filters)
        if path:
            self.edit.setText(path)

    def path(self) -> str:
        return self.edit.text().strip()

    def set_path(self, path: Path | str | None) -> None:
        self.edit.setText(str(path) if path else "")


def _line(text: str) -> QLineEdit:
    edit = QLineEdit(text)
    return edit


def _spin(lo: int, hi: int, value: int, suffix: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setValue(value)
    if suffix:
        box.setSuffix(suffix)
    return box


class ComposeForm(QWidget):
    """Every field of a bundle spec; ``changed`` whenever any of them is edited."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.root: Path | None = None
        self.artefacts = WorkspaceArtefacts()
        d = DEFAULTS

        # ---- source model ----
        self.model_combo = QComboBox()
        self.model_combo.setToolTip("Fill the model, report and thresholds from a workspace model")
        self.model_combo.activated.connect(self._on_model_picked)
        self.artefact_hint = QLabel()
        self.artefact_hint.setWordWrap(True)
        self.artefact_hint.setObjectName("composeHint")

        # ---- identity ----
        self.bundle_id = _line(d["bundleId"])
        self.firmware_version = _line(d["firmwareVersion"])
        self.model_version = _line(d["modelVersion"])
        self.threshold_version = _line(d["thresholdVersion"])
        self.calibration_version = _line(d["calibrationVersion"])
        self.rollback_target = QComboBox()
        self.rollback_target.setEditable(True)
        self.rollback_target.setToolTip(
            "The bundle a device falls back to (empty: none); built bundles are offered"
        )
        self.rollback_target.setCurrentText(d["rollbackTarget"])
        self.version_numbers = [_spin(0, 65535, v) for v in d["versionNumbers"]]
        for box, what in zip(
            self.version_numbers, ("firmware", "model", "thresholds", "calibration"), strict=True
        ):
            box.setToolTip(f"{what} version number in the 16-bit header field")
        self.epoch = _spin(0, 2**31 - 1, d["epoch"])
        self.epoch.setToolTip("Anti-rollback epoch: devices refuse bundles below theirs")
        self.profile = QComboBox()
        for p in PROFILES.values():
            self.profile.addItem(p.title, p.name)
        self.profile.setCurrentIndex(self.profile.findData(d["profile"]))
        self.profile_summary = QLabel()
        self.profile_summary.setWordWrap(True)

        ident = QGroupBox("Release")
        f = QFormLayout(ident)
        f.addRow("Bundle id", self.bundle_id)
        f.addRow("Firmware version", self.firmware_version)
        f.addRow("Model version", self.model_version)
        f.addRow("Threshold version", self.threshold_version)
        f.addRow("Calibration version", self.calibration_version)
        nums = QHBoxLayout()
        for box in self.version_numbers:
            box.setMaximumWidth(80)
            nums.addWidget(box)
        f.addRow("Header numbers", nums)
        f.addRow("Anti-rollback epoch", self.epoch)
        f.addRow("Rollback target", self.rollback_target)
        f.addRow("Profile", self.profile)
        f.addRow("", self.profile_summary)

        # ---- metadata + target ----
        meta = d["metadata"]
        self.environments = _line(", ".join(meta["targetEnvironment"]))
        self.environments.setToolTip("Comma-separated target environments (at most 8)")
        self.battery = _spin(0, 100, meta["minBatteryLevel"], " %")
        self.latency = _spin(1, 100000, meta["maxLatencyMs"], " ms")
        self.ram = _spin(1, 2**31 - 1, meta["peakRamBudgetBytes"], " B")
        tgt = d["target"]
        self.board_id = _line(tgt["boardId"])
        self.flash_size = _spin(1, 2**31 - 1, tgt["flashSize"], " B")
        self.partition_table = FileField("Partition table", "partitions.bin of the firmware build")
        self.partition_table.edit.setToolTip(
            "The device's partition table binary; its SHA-256 is signed into the target"
        )
        self.abi_min = _spin(0, 65535, tgt["abiRange"][0])
        self.abi_max = _spin(0, 65535, tgt["abiRange"][1])
        self.firmware_abi = _spin(0, 65535, tgt["firmwareAbi"])
        device = QGroupBox("Budgets and target")
        g = QFormLayout(device)
        g.addRow("Environments", self.environments)
        g.addRow("Min battery", self.battery)
        g.addRow("Max latency", self.latency)
        g.addRow("Peak RAM budget", self.ram)
        g.addRow("Board id", self.board_id)
        g.addRow("Flash size", self.flash_size)
        g.addRow("Partition table", self.partition_table)
        for box in (self.abi_min, self.abi_max, self.firmware_abi):
            box.setMaximumWidth(64)
        abi = QHBoxLayout()
        abi.addWidget(QLabel("accepts"))
        abi.addWidget(self.abi_min)
        abi.addWidget(QLabel("to"))
        abi.addWidget(self.abi_max)
        abi.addWidget(QLabel("is"))
        abi.addWidget(self.firmware_abi)
        abi.addStretch(1)
        g.addRow("Firmware ABI", abi)

        # ---- files ----
        self.report = FileField(
            "Validation report",
            "reports/quantization/<model>/report.json from the Quantization tab",
            "Validation report (*.json);;All files (*)",
        )
        self.components = {
            name: FileField(COMPONENT_TITLES[name], COMPONENT_HINTS[name]) for name in COMPONENTS
        }
        files = QGroupBox("Artefacts")
        fl = QGridLayout(files)
        fl.addWidget(QLabel("From model"), 0, 0)
        fl.addWidget(self.model_combo, 0, 1)
        fl.addWidget(self.artefact_hint, 1, 0, 1, 2)
        fl.addWidget(QLabel("Validation report"), 2, 0)
        fl.addWidget(self.report, 2, 1)
        for row, name in enumerate(COMPONENTS, start=3):
            fl.addWidget(QLabel(COMPONENT_TITLES[name]), row, 0)
            fl.addWidget(self.components[name], row, 1)
        fl.setColumnStretch(1, 1)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(files)
        cols = QHBoxLayout()
        cols.addWidget(ident, 1)
        cols.addWidget(device, 1)
        lay.addLayout(cols)
        lay.addStretch(1)

        for w in (
            self.bundle_id,
            self.firmware_version,
            self.model_version,
            self.threshold_version,
            self.calibration_version,
            self.environments,
            self.board_id,
        ):
            w.textChanged.connect(self.changed)
        for box in (
            *self.version_numbers,
            self.epoch,
            self.battery,
            self.latency,
            self.ram,
            self.flash_size,
            self.abi_min,
            self.abi_max,
            self.firmware_abi,
        ):
            box.valueChanged.connect(self.changed)
        self.rollback_target.currentTextChanged.connect(self.changed)
        self.profile.currentIndexChanged.connect(self._on_profile)
        self.report.changed.connect(self.changed)
        self.partition_table.changed.connect(self.changed)
        for fld in self.components.values():
            fld.changed.connect(self.changed)
        self._on_profile()
        self._refresh_models()

    # ---- workspace ------------------------------------------------------------------------
    def set_root(self, root: Path | None) -> None:
        """Follow another workspace; files chosen in the previous one are cleared."""
        changed = root != self.root
        self.root = root
        for fld in (self.report, self.partition_table, *self.components.values()):
            fld.start_dir = str(root) if root else ""
            if changed:
                fld.set_path(None)
        if changed:
            self.model_combo.clear()
        self.rescan()

    def rescan(self) -> None:
        """Re-read the workspace's artefacts (models, reports, thresholds, built bundles)."""
        self.artefacts = scan_workspace(self.root) if self.root else WorkspaceArtefacts()
        keep = self.rollback_target.currentText()
        self.rollback_target.blockSignals(True)
        self.rollback_target.clear()
        self.rollback_target.addItem("")
        self.rollback_target.addItems(self.artefacts.bundle_ids)
        self.rollback_target.setCurrentText(keep)
        self.rollback_target.blockSignals(False)
        current = self.model_combo.currentData()
        self._refresh_models()
        usable = [a.name for a in self.artefacts.models.values() if a.model is not None]
        if usable:
            # Re-apply the chosen model so a newer report or thresholds version is picked up.
            self.use_model(str(current) if current in usable else usable[0])

    def _refresh_models(self) -> None:
        self.model_combo.clear()
        usable = [a for a in self.artefacts.models.values() if a.model is not None]
        if not usable:
            self.model_combo.addItem("no INT8 model in this workspace", None)
            self.model_combo.setEnabled(False)
            self.artefact_hint.setText(
                "No INT8 model found under models/. Train one on the Train tab (or quantize one "
                "on the Quantization tab), or pick the files below by hand."
            )
            return
        self.model_combo.setEnabled(True)
        for a in usable:
            self.model_combo.addItem(a.name, a.name)
        self.artefact_hint.setText(
            f"{len(usable)} INT8 model(s) found; picking one fills the model, its validation "
            "report and its latest thresholds. Firmware, calibration, drift baseline and "
            "self-test files come from the firmware and data tools."
        )

    def _on_model_picked(self, index: int) -> None:
        name = self.model_combo.itemData(index)
        if name:
            self.use_model(str(name))

    def use_model(self, name: str) -> None:
        a = self.artefacts.models.get(name)
        if a is None:
            return
        i = self.model_combo.findData(name)
        if i >= 0:
            self.model_combo.setCurrentIndex(i)
        if a.model:
            self.components["model"].set_path(a.model)
        if a.report:
            self.report.set_path(a.report)
        if a.thresholds:
            self.components["thresholds"].set_path(a.thresholds)
            self.threshold_version.setText(a.threshold_version or "")

    def _on_profile(self) -> None:
        p = PROFILES[str(self.profile.currentData())]
        self.profile_summary.setText(
            f"{p.summary}; INT8 metric ≥ {p.min_metric:.2f}, drop ≤ {p.max_drop:.3f}, "
            f"battery floor {p.min_battery_level} %"
        )
        self.changed.emit()

    # ---- spec -----------------------------------------------------------------------------
    def mapping(self) -> dict[str, Any]:
        """The spec mapping (``BundleSpec.from_mapping``); empty file fields are left out."""
        raw: dict[str, Any] = {
            "bundleId": self.bundle_id.text().strip(),
            "firmwareVersion": self.firmware_version.text().strip(),
            "modelVersion": self.model_version.text().strip(),
            "thresholdVersion": self.threshold_version.text().strip(),
            "calibrationVersion": self.calibration_version.text().strip(),
            "versionNumbers": [b.value() for b in self.version_numbers],
            "profile": str(self.profile.currentData()),
            "epoch": self.epoch.value(),
            "metadata": {
                "targetEnvironment": [
                    e.strip() for e in self.environments.text().split(",") if e.strip()
                ],
                "minBatteryLevel": self.battery.value(),
                "maxLatencyMs": self.latency.value(),
                "peakRamBudgetBytes": self.ram.value(),
            },
            "target": {
                "boardId": self.board_id.text().strip(),
                "flashSize": self.flash_size.value(),
                "abiRange": [self.abi_min.value(), self.abi_max.value()],
                "firmwareAbi": self.firmware_abi.value(),
            },
            "components": {},
        }
        rollback = self.rollback_target.currentText().strip()
        if rollback:
            raw["rollbackTarget"] = rollback
        if self.partition_table.path():
            raw["target"]["partitionTable"] = self.partition_table.path()
        if self.report.path():
            raw["report"] = self.report.path()
        for name, fld in self.components.items():
            if fld.path():
                raw["components"][SPEC_COMPONENT_KEYS[name]] = fld.path()
        return raw

    def missing(self) -> list[str]:
        """Titles of the files still to choose, in form order."""
        out = [] if self.report.path() else ["validation report"]
        if not self.partition_table.path():
            out.append("partition table")
        out += [
            COMPONENT_TITLES[n][0].lower() + COMPONENT_TITLES[n][1:]
            for n, f in self.components.items()
            if not f.path()
        ]
        return out

    def load_spec(self, path: Path) -> None:
        """Fill the form from a bundle spec TOML (paths made absolute against its folder)."""
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputFileError(f"{path}: cannot read the bundle spec ({exc.strerror})") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputFileError(f"{path}: not valid TOML ({exc})") from None
        base = path.parent

        def absolute(p: Any) -> str:
            return str(base / str(p))

        texts = {
            "bundleId": self.bundle_id,
            "firmwareVersion": self.firmware_version,
            "modelVersion": self.model_version,
            "thresholdVersion": self.threshold_version,
            "calibrationVersion": self.calibration_version,
        }
        for key, edit in texts.items():
            if isinstance(raw.get(key), str):
                edit.setText(raw[key])
        self.rollback_target.setCurrentText(str(raw.get("rollbackTarget", "")))
        nums = raw.get("versionNumbers")
        if isinstance(nums, list) and len(nums) == 4:
            for box, v in zip(self.version_numbers, nums, strict=True):
                box.setValue(int(v))
        if isinstance(raw.get("epoch"), int):
            self.epoch.setValue(raw["epoch"])
        i = self.profile.findData(raw.get("profile"))
        if i >= 0:
            self.profile.setCurrentIndex(i)
        meta = raw.get("metadata", {})
        if isinstance(meta.get("targetEnvironment"), list):
            self.environments.setText(", ".join(map(str, meta["targetEnvironment"])))
        for key, box in (
            ("minBatteryLevel", self.battery),
            ("maxLatencyMs", self.latency),
            ("peakRamBudgetBytes", self.ram),
        ):
            if isinstance(meta.get(key), int):
                box.setValue(meta[key])
        tgt = raw.get("target", {})
        if isinstance(tgt.get("boardId"), str):
            self.board_id.setText(tgt["boardId"])
        if isinstance(tgt.get("flashSize"), int):
            self.flash_size.setValue(tgt["flashSize"])
        if "partitionTable" in tgt:
            self.partition_table.set_path(absolute(tgt["partitionTable"]))
        abi = tgt.get("abiRange")
        if isinstance(abi, list) and len(abi) == 2:
            self.abi_min.setValue(int(abi[0]))
            self.abi_max.setValue(int(abi[1]))
        if isinstance(tgt.get("firmwareAbi"), int):
            self.firmware_abi.setValue(tgt["firmwareAbi"])
        if "report" in raw:
            self.report.set_path(absolute(raw["report"]))
        comps = raw.get("components", {})
        for name, key in SPEC_COMPONENT_KEYS.items():
            if key in comps:
                self.components[name].set_path(absolute(comps[key]))
