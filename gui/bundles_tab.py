"""The Bundles tab: compose a signed deployment bundle from workspace artefacts, see each build
gate check, sign and build it in the worker, verify any bundle file as a device would, diff two
bundles, and browse the workspace's registry of built bundles with their rollback targets.

Owned by helper M (issue 6). All bundle logic is ``core.bundle``; this module only arranges it.
Four pages:

* **Compose & sign** — the spec form (``gui.bundles_compose``), the gate checks re-evaluated as
  the form changes, a signing key from the user's ``KeyStore`` (generate one here), an optional
  override reason, Build (passphrase dialog → worker → ``bundles/<bundleId>.fbb`` + registry).
* **Verify** — drop a file or open one; the verdict code in large type with its sentence.
* **Diff** — what changed between two bundles, versions first.
* **Registry** — ``bundles/registry.json`` as a table; verify or diff the selected rows.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.bundle.build import BuiltBundle, BundleSpec, build_bundle
from core.bundle.gate import GateError, evaluate, load_report
from core.bundle.keys import KeyStore
from core.bundle.profiles import PROFILES
from core.bundle.registry import BundleRegistry, RegistryEntry
from core.bundle.trust import TrustedKey
from core.bundle.verify import DeviceContext, Verdict, verify_bundle
from core.errors import ConfigError, FieldbenchError
from core.workspace import Workspace
from gui.bundles_compose import ComposeForm
from gui.bundles_views import (
    GREEN,
    GREY,
    RED,
    DropZone,
    FieldTable,
    GatePanel,
    NewKeyDialog,
    PassphraseDialog,
    RegistryTable,
    VerdictPanel,
    button,
    change_summary,
    empty_label,
    manifest_changes,
    read_manifest,
)
from gui.worker import Worker, WorkerPool

log = logging.getLogger("fieldbench.gui.bundles")

BUNDLE_FILTER = "Fieldbench bundles (*.fbb);;All files (*)"
BUNDLES_DIR = "bundles"


@dataclass(frozen=True)
class BuildOutcome:
    built: BuiltBundle
    entry: RegistryEntry


def run_build(
    mapping: dict[str, Any],
    base: Path,
    key_name: str,
    passphrase: str,
    out: Path,
    override: str | None,
    workspace_root: Path,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> BuildOutcome:
    """Worker job: decrypt the key, gate, sign, write atomically, record in the registry."""
    try:
        spec = BundleSpec.from_mapping(mapping, base)
    except ConfigError as exc:
        raise ConfigError(f"the bundle spec is incomplete: {exc}") from None
    key = KeyStore().load_private(key_name, passphrase)
    if out.exists():
        raise FieldbenchError(
            f"{out} already exists; a released bundle id is never re-signed — raise the bundle "
            "id (and the versions that changed) and build again"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    built = build_bundle(
        spec,
        key,
        out,
        override=override,
        progress=(lambda d, t: progress(d / t)) if progress else None,
        cancel=cancel,
    )
    return BuildOutcome(built, BundleRegistry(workspace_root).add(built))


def run_verify(
    path: Path,
    context: DeviceContext,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Verdict:
    """Worker job: the device's verification of one bundle file."""
    return verify_bundle(
        path,
        context,
        progress=(lambda d, t: progress(d / t if t else 1.0)) if progress else None,
        cancel=cancel,
    )


def _title(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * 1.15)
    label.setFont(font)
    return label


class BundlesTab(QWidget):
    """Compose & sign, Verify, Diff and Registry pages over ``core.bundle``."""

    def __init__(
        self,
        workers: WorkerPool,
        workspace_getter: Callable[[], Workspace | None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.workers = workers
        self.workspace_getter = workspace_getter
        self.workspace: Workspace | None = None
        self.store = KeyStore()
        self.job: Worker | None = None
        self.dialog: QDialog | None = None  # the open modal dialog (tests answer it)
        self.extra_keys: list[TrustedKey] = []
        self.last_build: BuildOutcome | None = None
        self.pages = QTabWidget()
        self.pages.addTab(self._compose_page(), "Compose && sign")
        self.pages.addTab(self._verify_page(), "Verify")
        self.pages.addTab(self._diff_page(), "Diff")
        self.pages.addTab(self._registry_page(), "Registry")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.pages)
        self.gate_timer = QTimer(self)
        self.gate_timer.setSingleShot(True)
        self.gate_timer.setInterval(150)
        self.gate_timer.timeout.connect(self.evaluate_gate)
        self.form.changed.connect(self.gate_timer.start)
        self.override.textChanged.connect(self._update_build_state)
        self.refresh_keys()
        self.evaluate_gate()
        self._set_idle(True)

    @classmethod
    def add_to(cls, window: Any) -> BundlesTab:
        """Create the tab for ``window`` (a MainWindow) and add it to its tabs; the tab follows
        ``window.workspace`` whenever it is shown."""
        tab = cls(window.workers, lambda: getattr(window, "workspace", None))
        window.tabs.addTab(tab, "Bundles")
        return tab

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.workspace_getter is not None:
            ws = self.workspace_getter()
            if ws is not self.workspace:
                self.set_workspace(ws)
        self.refresh_keys()

    # ---- pages ----------------------------------------------------------------------------
    def _compose_page(self) -> QWidget:
        self.form = ComposeForm()
        self.load_spec_button = button("Load spec…", "Fill the form from a bundle spec TOML")
        self.load_spec_button.clicked.connect(self.load_spec_dialog)
        self.rescan_button = button("Rescan workspace", "Look for new models, reports, bundles")
        self.rescan_button.clicked.connect(self.rescan)
        top = QHBoxLayout()
        top.addWidget(_title("Compose a bundle"))
        top.addStretch(1)
        top.addWidget(self.rescan_button)
        top.addWidget(self.load_spec_button)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addLayout(top)
        ll.addWidget(self.form, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(left)

        self.gate = GatePanel()
        gate_box = QGroupBox("Build gate")
        QVBoxLayout(gate_box).addWidget(self.gate)

        self.key_combo = QComboBox()
        self.key_combo.setToolTip("Signing keys in your user config folder (never in a workspace)")
        self.key_combo.currentIndexChanged.connect(self._update_build_state)
        self.new_key_button = button("Generate key…", "Create a passphrase-protected P-256 key")
        self.new_key_button.clicked.connect(self.generate_key_dialog)
        self.key_hint = QLabel()
        self.key_hint.setWordWrap(True)
        self.override = QLineEdit()
        self.override.setPlaceholderText("why build despite failed checks")
        self.override.setMaxLength(80)
        self.build_button = QPushButton("Build && sign…")
        self.build_button.setDefault(True)
        self.build_button.setMinimumHeight(32)
        self.build_button.clicked.connect(self.build)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(10)
        self.build_hint = QLabel()
        self.build_hint.setWordWrap(True)
        self.build_status = QLabel()
        self.build_status.setWordWrap(True)
        self.build_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        sign_box = QGroupBox("Sign and build")
        sf = QFormLayout(sign_box)
        sf.addRow("Signing key", self.key_combo)
        keys = QHBoxLayout()
        keys.addWidget(self.key_hint, 1)
        keys.addWidget(self.new_key_button, 0, Qt.AlignmentFlag.AlignTop)
        sf.addRow(keys)
        sf.addRow("Override reason", self.override)
        run = QHBoxLayout()
        run.addWidget(self.build_button)
        run.addWidget(self.cancel_button)
        run.addWidget(self.progress, 1)
        sf.addRow(run)
        sf.addRow(self.build_hint)
        sf.addRow(self.build_status)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(gate_box)
        rl.addWidget(sign_box)
        rl.addStretch(1)
        right_scroll = QScrollArea()
        right_scroll.setWidgetResizable(True)
        right_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        right_scroll.setWidget(right)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(scroll)
        split.addWidget(right_scroll)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        split.setSizes([870, 400])
        return split

    def _verify_page(self) -> QWidget:
        self.drop = DropZone("Drop a bundle file (.fbb) here to verify it")
        self.drop.dropped.connect(self.verify_file)
        self.open_bundle_button = button("Open bundle…", "Verify a bundle file")
        self.open_bundle_button.clicked.connect(self.verify_dialog)
        top = QHBoxLayout()
        top.addWidget(self.drop, 1)
        top.addWidget(self.open_bundle_button)

        self.trust_label = QLabel()
        self.trust_label.setWordWrap(True)
        self.trust_button = button("Trust public key…", "Also trust a public key PEM file")
        self.trust_button.clicked.connect(self.trust_key_dialog)
        self.board = QLineEdit()
        self.board.setPlaceholderText("any board")
        self.min_epoch = QSpinBox()
        self.min_epoch.setRange(0, 2**31 - 1)
        self.min_epoch.setToolTip("The device's anti-rollback epoch; older bundles are refused")
        self.check_expiry = QCheckBox("refuse expired bundles (this computer's clock)")
        self.check_expiry.setChecked(True)
        device = QGroupBox("As this device")
        df = QFormLayout(device)
        trust = QHBoxLayout()
        trust.addWidget(self.trust_label, 1)
        trust.addWidget(self.trust_button)
        df.addRow("Trusted keys", trust)
        df.addRow("Board id", self.board)
        df.addRow("Device epoch", self.min_epoch)
        df.addRow("", self.check_expiry)
        self.verify_progress = QProgressBar()
        self.verify_progress.setRange(0, 1000)
        self.verify_progress.setTextVisible(False)
        self.verify_progress.setMaximumHeight(8)
        self.verify_progress.hide()
        self.verdict = VerdictPanel()
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.addLayout(top)
        lay.addWidget(device)
        lay.addWidget(self.verify_progress)
        lay.addWidget(self.verdict, 1)
        scroll = QScrollArea()  # the page never sets the window's minimum height
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(page)
        return scroll

    def _diff_page(self) -> QWidget:
        self.diff_old = QLineEdit()
        self.diff_old.setPlaceholderText("older bundle (.fbb) — type a path, browse or drop")
        self.diff_new = QLineEdit()
        self.diff_new.setPlaceholderText("newer bundle (.fbb)")
        rows = QFormLayout()
        for label, edit in (("Older", self.diff_old), ("Newer", self.diff_new)):
            zone = DropZone("")
            zone.setMinimumHeight(0)
            zone.label.hide()
            zone.box.setContentsMargins(4, 4, 4, 4)
            zone.box.addWidget(edit)
            pick = button("…", f"Choose the {label.lower()} bundle")
            pick.setMaximumWidth(36)
            pick.clicked.connect(lambda _=False, e=edit: self._pick_into(e))
            zone.dropped.connect(edit.setText)
            row = QHBoxLayout()
            row.addWidget(zone, 1)
            row.addWidget(pick)
            rows.addRow(label, row)
            edit.editingFinished.connect(self.compare)
        self.compare_button = button("Compare", "What changed between the two bundles")
        self.compare_button.clicked.connect(self.compare)
        self.diff_summary = QLabel()
        self.diff_summary.setWordWrap(True)
        font = self.diff_summary.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.diff_summary.setFont(font)
        self.diff_summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.diff_table = FieldTable(("Field", "Older", "Newer"))
        self.diff_empty = empty_label(
            "Choose an older and a newer bundle file — or select two rows on the Registry page "
            "and press Diff — to see which versions and fields changed."
        )
        self.diff_stack = QStackedWidget()
        self.diff_stack.addWidget(self.diff_empty)
        self.diff_stack.addWidget(self.diff_table)
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.addLayout(rows)
        bar = QHBoxLayout()
        bar.addWidget(self.compare_button)
        bar.addStretch(1)
        lay.addLayout(bar)
        lay.addWidget(self.diff_summary)
        lay.addWidget(self.diff_stack, 1)
        return page

    def _registry_page(self) -> QWidget:
        self.registry = RegistryTable()
        self.registry.doubleClicked.connect(lambda _i: self.verify_selected())
        self.registry.itemSelectionChanged.connect(self._update_registry_buttons)
        self.registry_empty = empty_label(
            "No bundles built in this workspace yet. Compose one on the Compose & sign page: "
            "pick the INT8 model, then the firmware, calibration, drift-baseline and self-test "
            "files and a signing key, and press Build & sign."
        )
        self.registry_stack = QStackedWidget()
        self.registry_stack.addWidget(self.registry_empty)
        self.registry_stack.addWidget(self.registry)
        self.verify_selected_button = button("Verify", "Verify the selected bundle")
        self.verify_selected_button.clicked.connect(self.verify_selected)
        self.diff_selected_button = button("Diff", "Compare the two selected bundles")
        self.diff_selected_button.clicked.connect(self.diff_selected)
        self.refresh_registry_button = button("Refresh", "Re-read bundles/registry.json")
        self.refresh_registry_button.clicked.connect(self.refresh_registry)
        self.registry_status = QLabel()
        self.registry_status.setWordWrap(True)
        bar = QHBoxLayout()
        bar.addWidget(_title("Built bundles"))
        bar.addStretch(1)
        for b in (
            self.verify_selected_button,
            self.diff_selected_button,
            self.refresh_registry_button,
        ):
            bar.addWidget(b)
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.addLayout(bar)
        lay.addWidget(self.registry_stack, 1)
        lay.addWidget(self.registry_status)
        return page

    # ---- workspace ------------------------------------------------------------------------
    def set_workspace(self, workspace: Workspace | None) -> None:
        self.workspace = workspace
        self.form.set_root(workspace.path if workspace else None)
        self.refresh_registry()
        self.evaluate_gate()

    def rescan(self) -> None:
        self.form.rescan()
        self.refresh_registry()
        self.evaluate_gate()

    def load_spec_dialog(self) -> None:
        start = str(self.workspace.path) if self.workspace else ""
        path, _ = QFileDialog.getOpenFileName(
            self, "Load bundle spec", start, "Bundle spec (*.toml);;All files (*)"
        )
        if path:
            self.load_spec(Path(path))

    def load_spec(self, path: Path) -> None:
        try:
            self.form.load_spec(path)
        except FieldbenchError as exc:
            self._status(str(exc), RED)
        self.evaluate_gate()

    # ---- keys -----------------------------------------------------------------------------
    def refresh_keys(self, select: str | None = None) -> None:
        keep = select or self.key_combo.currentData()
        self.key_combo.blockSignals(True)
        self.key_combo.clear()
        try:
            keys = self.store.list()
        except FieldbenchError as exc:
            keys = []
            self.key_hint.setText(str(exc))
        for k in keys:
            self.key_combo.addItem(f"{k.name}  ({k.short_id})", k.name)
        if keys:
            i = self.key_combo.findData(keep)
            self.key_combo.setCurrentIndex(max(i, 0))
            self.key_hint.setText(f"{len(keys)} key(s) in {self.store.root}")
        else:
            self.key_combo.addItem("none yet", None)
            self.key_hint.setText(
                "No signing key yet: press Generate key… (it is kept encrypted in your user "
                "config folder, never in the workspace)."
            )
        self.key_combo.setEnabled(bool(keys))
        self.key_combo.blockSignals(False)
        self._update_trust_label()
        self._update_build_state()

    def generate_key_dialog(self) -> None:
        dialog = NewKeyDialog(self)
        self.dialog = dialog
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return
            name, phrase = dialog.key_name(), dialog.passphrase()
        finally:
            self.dialog = None
        self.generate_key(name, phrase)

    def generate_key(self, name: str, passphrase: str) -> bool:
        try:
            info = self.store.generate(name, passphrase)
        except FieldbenchError as exc:
            self._status(str(exc), RED)
            return False
        self._status(f"Key {info.name} created (id {info.short_id}) in {self.store.root}.", GREEN)
        self.refresh_keys(select=info.name)
        return True

    def ask_passphrase(self, key_name: str) -> str | None:
        dialog = PassphraseDialog(
            "Unlock signing key", f"Passphrase of signing key “{key_name}”:", parent=self
        )
        self.dialog = dialog
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return dialog.passphrase()
        finally:
            self.dialog = None

    # ---- gate and build -------------------------------------------------------------------
    def evaluate_gate(self) -> None:
        """Re-run the gate checks on the form's report and model (cheap: one hash)."""
        self.gate_timer.stop()
        form = self.form
        report_path, model_path = form.report.path(), form.components["model"].path()
        if not report_path or not model_path:
            need = [
                w for w, p in (("validation report", report_path), ("model", model_path)) if not p
            ]
            self.gate.show_problem(
                f"Choose the {' and the '.join(need)} to run the gate checks: the report from the "
                "Quantization or Train tab must be about exactly this INT8 model."
            )
        else:
            try:
                model_sha = hashlib.sha256(Path(model_path).read_bytes()).digest()
            except OSError as exc:
                self.gate.show_problem(f"{model_path}: cannot read the model ({exc.strerror}).")
            else:
                try:
                    report = load_report(report_path)
                    raw = form.mapping()
                    result = evaluate(
                        report,
                        PROFILES[raw["profile"]],
                        model_sha,
                        raw["metadata"]["maxLatencyMs"],
                        raw["metadata"]["peakRamBudgetBytes"],
                    )
                except GateError as exc:
                    self.gate.show_problem(str(exc))
                else:
                    self.gate.show_result(result)
        self._update_build_state()

    def _build_blockers(self) -> list[str]:
        out = []
        if self.workspace is None:
            out.append("open a workspace (bundles and the registry live in it)")
        missing = self.form.missing()
        if missing:
            out.append(f"choose the {', '.join(missing)}")
        elif self.output_path().exists():
            out.append(
                f"raise the bundle id: {self.output_path().name} is already built (a released "
                "bundle id is never re-signed)"
            )
        if self.key_combo.currentData() is None:
            out.append("generate or choose a signing key")
        if self.gate.result is None and not missing:
            out.append("fix the problem the build gate shows")
        elif (
            self.gate.result is not None
            and not self.gate.result.passed
            and not self.override.text().strip()
        ):
            out.append("make the gate pass or give an override reason")
        return out

    def _update_build_state(self) -> None:
        if not hasattr(self, "build_hint"):
            return
        blockers = self._build_blockers()
        busy = self.job is not None
        self.build_button.setEnabled(not blockers and not busy)
        if blockers:
            self.build_hint.setText("To build: " + "; ".join(blockers) + ".")
            self.build_hint.setStyleSheet(f"color: {GREY};")
        else:
            out = self.output_path()
            self.build_hint.setText(f"Ready: writes {out} and records it in the registry.")
            self.build_hint.setStyleSheet(f"color: {GREEN};")

    def output_path(self) -> Path:
        root = self.workspace.path if self.workspace else Path.cwd()
        bundle_id = self.form.bundle_id.text().strip() or "bundle"
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in bundle_id)
        return root / BUNDLES_DIR / f"{safe}.fbb"

    def build(self) -> Worker | None:
        """Ask the passphrase, then gate, sign and write the bundle in the worker."""
        if self.job is not None or self.workspace is None or self._build_blockers():
            return None
        key_name = str(self.key_combo.currentData())
        phrase = self.ask_passphrase(key_name)
        if phrase is None:
            self._status("Build cancelled: no passphrase given.", GREY)
            return None
        return self.start_build(key_name, phrase)

    def start_build(self, key_name: str, passphrase: str) -> Worker | None:
        if self.workspace is None:
            return None
        override = self.override.text().strip() or None
        if self.gate.result is not None and self.gate.result.passed:
            override = None  # nothing to override: do not sign a pointless note
        worker = Worker(
            run_build,
            self.form.mapping(),
            self.workspace.path,
            key_name,
            passphrase,
            self.output_path(),
            override,
            self.workspace.path,
            label=f"build bundle {self.form.bundle_id.text().strip()}",
        )
        worker.signals.finished.connect(self._on_built)
        worker.signals.failed.connect(lambda msg: self._status(msg, RED))
        worker.signals.cancelled.connect(
            lambda: self._status("Build cancelled; nothing was written.", GREY)
        )
        return self._start(worker, self.progress)

    def _on_built(self, outcome: BuildOutcome) -> None:
        self.last_build = outcome
        b, e = outcome.built, outcome.entry
        note = (
            f" Gate override signed: {b.manifest.gate_override}."
            if b.manifest.gate_override
            else ""
        )
        self._status(
            f"Built {b.path.name}: {b.size} bytes, sha256 {b.sha256.hex()[:16]}…, registered "
            f"as #{e.ordinal} (rollback target: {e.rollback_target or 'none'}).{note}",
            GREEN,
        )
        self.form.rescan()
        self.refresh_registry()

    def _status(self, text: str, colour: str) -> None:
        self.build_status.setText(text)
        self.build_status.setStyleSheet(f"color: {colour};")

    # ---- worker plumbing ------------------------------------------------------------------
    def _start(self, worker: Worker, bar: QProgressBar) -> Worker:
        self.job = worker
        bar.setValue(0)
        bar.show()
        worker.signals.progress.connect(lambda f: bar.setValue(int(f * 1000)))
        worker.signals.done.connect(self._on_done)
        self._set_idle(False)
        return self.workers.start(worker)

    def _on_done(self) -> None:
        self.job = None
        self._set_idle(True)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _set_idle(self, idle: bool) -> None:
        self.cancel_button.setEnabled(not idle)
        self.progress.setVisible(not idle)
        self.verify_progress.setVisible(not idle and self.pages.currentIndex() == 1)
        for b in (self.open_bundle_button, self.verify_selected_button):
            b.setEnabled(idle)
        self._update_build_state()
        self._update_registry_buttons()

    # ---- verify ---------------------------------------------------------------------------
    def _update_trust_label(self) -> None:
        try:
            n = len(self.store.list())
        except FieldbenchError:
            n = 0
        extra = f" + {len(self.extra_keys)} imported here" if self.extra_keys else ""
        if n or extra:
            self.trust_label.setText(f"{n} key(s) of your key store{extra}")
        else:
            self.trust_label.setText(
                "none yet — every bundle will be UNKNOWN_KEY; generate a key or trust a "
                "public key file"
            )

    def trust_key_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Trust public key", "", "Public key (*.pem);;All files (*)"
        )
        if path:
            self.trust_key(Path(path))

    def trust_key(self, path: Path) -> bool:
        try:
            self.extra_keys.append(TrustedKey.from_pem_file(path))
        except FieldbenchError as exc:
            self.verdict.sentence.setText(str(exc))
            return False
        self._update_trust_label()
        return True

    def device_context(self) -> DeviceContext:
        try:
            keys = self.store.all_trusted()
        except FieldbenchError:
            keys = ()
        return DeviceContext(
            trusted_keys=tuple(keys) + tuple(self.extra_keys),
            board_id=self.board.text().strip() or None,
            min_epoch=self.min_epoch.value(),
            now=int(time.time()) if self.check_expiry.isChecked() else 0,
        )

    def verify_dialog(self) -> None:
        start = str(self.workspace.path / BUNDLES_DIR) if self.workspace else ""
        path, _ = QFileDialog.getOpenFileName(self, "Verify bundle", start, BUNDLE_FILTER)
        if path:
            self.verify_file(path)

    def verify_file(self, path: str | Path) -> Worker | None:
        """Verify ``path`` in the worker; the verdict replaces the panel's contents."""
        if self.job is not None:
            return None
        self.pages.setCurrentIndex(1)
        p = Path(path)
        self.verdict.code.setText("Verifying…")
        self.verdict.code.setStyleSheet(f"color: {GREY};")
        self.verdict.sentence.setText(str(p))
        worker = Worker(run_verify, p, self.device_context(), label=f"verify {p.name}")
        worker.signals.finished.connect(lambda v: self.verdict.show_verdict(str(p), v))
        worker.signals.failed.connect(self.verdict.sentence.setText)
        worker.signals.cancelled.connect(self.verdict.clear)
        return self._start(worker, self.verify_progress)

    # ---- diff -----------------------------------------------------------------------------
    def _pick_into(self, edit: QLineEdit) -> None:
        start = str(self.workspace.path / BUNDLES_DIR) if self.workspace else ""
        path, _ = QFileDialog.getOpenFileName(self, "Choose bundle", start, BUNDLE_FILTER)
        if path:
            edit.setText(path)
            self.compare()

    def compare(self) -> bool:
        """Diff the two chosen bundles' manifests; False (with a sentence) when one is bad."""
        old, new = self.diff_old.text().strip(), self.diff_new.text().strip()
        if not old or not new:
            self.diff_stack.setCurrentWidget(self.diff_empty)
            self.diff_summary.setText("")
            return False
        try:
            _, a = read_manifest(old)
            _, b = read_manifest(new)
        except FieldbenchError as exc:
            self.diff_summary.setText(str(exc))
            self.diff_summary.setStyleSheet(f"color: {RED};")
            self.diff_table.set_rows([])
            self.diff_stack.setCurrentWidget(self.diff_empty)
            return False
        changes = manifest_changes(a, b)
        self.diff_summary.setText(change_summary(a, b, changes))
        self.diff_summary.setStyleSheet("")
        self.diff_table.set_rows(
            [(c.path, c.old, c.new) for c in changes],
            bold={c.path.split(".")[0] for c in changes if c.is_version},
            colour="#1a4fa0",
        )
        self.diff_stack.setCurrentWidget(self.diff_table)
        self.diff_changes = changes
        return True

    # ---- registry -------------------------------------------------------------------------
    def refresh_registry(self) -> None:
        entries: list[RegistryEntry] = []
        self.registry_status.setText("")
        if self.workspace is not None:
            try:
                entries = BundleRegistry(self.workspace.path).entries()
            except FieldbenchError as exc:
                self.registry_status.setText(str(exc))
                self.registry_status.setStyleSheet(f"color: {RED};")
        self.registry.set_entries(entries)
        self.registry_stack.setCurrentWidget(self.registry if entries else self.registry_empty)
        self._update_registry_buttons()

    def _entry_path(self, e: RegistryEntry) -> Path:
        p = Path(e.file)
        return p if p.is_absolute() or self.workspace is None else self.workspace.path / p

    def _update_registry_buttons(self) -> None:
        if not hasattr(self, "registry"):
            return
        n = len(self.registry.selected_entries())
        self.verify_selected_button.setEnabled(n == 1 and self.job is None)
        self.diff_selected_button.setEnabled(n == 2)

    def verify_selected(self) -> Worker | None:
        sel = self.registry.selected_entries()
        return self.verify_file(self._entry_path(sel[0])) if len(sel) == 1 else None

    def diff_selected(self) -> bool:
        sel = self.registry.selected_entries()
        if len(sel) != 2:
            return False
        self.diff_old.setText(str(self._entry_path(sel[0])))
        self.diff_new.setText(str(self._entry_path(sel[1])))
        self.pages.setCurrentIndex(2)
        return self.compare()
