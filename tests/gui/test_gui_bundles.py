"""The Bundles tab on real core objects: a key generated in the isolated config folder, sample
artefacts from ``core.bundle.sample`` laid out as a workspace holds them, real builds, real
verification, diff and registry."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QDialog, QDialogButtonBox
from pytestqt.qtbot import QtBot

from core.bundle.format import COMPONENTS
from core.bundle.keys import KeyStore
from core.bundle.registry import BundleRegistry
from core.bundle.sample import sample_components
from core.errors import Cancelled
from core.workspace import Workspace
from gui.bundles_tab import BundlesTab, run_build
from gui.bundles_views import NewKeyDialog, PassphraseDialog
from gui.worker import WorkerPool

pytestmark = pytest.mark.gui

PHRASE = "correct horse battery"


def _report(model: bytes, *, pool: int = 9000, latency: float = 3.2, auc: float = 0.97) -> dict:
    return {
        "format": 1,
        "model": {
            "name": "m",
            "sha256_float": "0" * 64,
            "sha256_int8": hashlib.sha256(model).hexdigest(),
        },
        "task": "anomaly",
        "overall": {"float": {"auc": 0.972}, "int8": {"auc": auc}},
        "strata": [],
        "layers": [],
        "flags": [],
        "budgets": {"pool_bytes": pool, "latency_ms": latency, "flash_bytes": 40000, "macs": 1},
        "passed": True,
    }


def write_release(root: Path, release: int, **report_args: float) -> dict[str, Path]:
    """Sample release ``release`` laid out like a workspace's artefacts."""
    comps = dict(zip(COMPONENTS, sample_components(release), strict=True))
    paths = {
        "model": root / "models" / "m" / "m-int8.onnx",
        "thresholds": root / "thresholds" / "m" / f"thresh-v{release - 1}.json",
        "firmware": root / "firmware" / f"app-{release}.bin",
        "calibration": root / "calibration" / f"calib-v{release - 2}.bin",
        "drift_baseline": root / "drift" / f"baseline-{release}.bin",
        "selftest": root / "selftest" / f"vectors-{release}.bin",
        "report": root / "reports" / "quantization" / "m" / "report.json",
        "partitions": root / "firmware" / "partitions.bin",
    }
    for name, data in comps.items():
        paths[name].parent.mkdir(parents=True, exist_ok=True)
        paths[name].write_bytes(data)
    paths["report"].parent.mkdir(parents=True, exist_ok=True)
    report = _report(comps["model"], **report_args)  # type: ignore[arg-type]
    paths["report"].write_text(json.dumps(report))
    paths["partitions"].write_bytes(b"fieldbench partitions v1")
    return paths


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace.create(tmp_path / "ws", "bundles")


@pytest.fixture
def tab(qtbot: QtBot, workspace: Workspace) -> Iterator[BundlesTab]:
    pool = WorkerPool()
    widget = BundlesTab(pool)
    qtbot.addWidget(widget)
    widget.resize(1280, 800)
    widget.show()
    widget.set_workspace(workspace)
    yield widget
    pool.shutdown()


def fill(tab: BundlesTab, paths: dict[str, Path], release: int = 4) -> None:
    """The files a workspace scan cannot guess, and the release's versions."""
    f = tab.form
    f.partition_table.set_path(paths["partitions"])
    for name in ("firmware", "calibration", "drift_baseline", "selftest"):
        f.components[name].set_path(paths[name])
    f.bundle_id.setText(f"edge-inference-v2.{release}.1")
    f.firmware_version.setText(f"fw-1.{release + 4}.0")
    f.calibration_version.setText(f"calib-v{release - 2}")
    f.epoch.setValue(release)
    f.rollback_target.setCurrentText(f"edge-inference-v2.{release - 1}.1")
    tab.evaluate_gate()


def answer_later(tab: BundlesTab, fill: Callable[[QDialog], None]) -> list[str]:
    """Answer the tab's next modal dialog with ``fill``; a failing ``fill`` rejects the dialog
    (so the test fails instead of hanging) and its error lands in the returned list."""
    errors: list[str] = []

    def run(tries: int = 200) -> None:
        d = tab.dialog
        if d is None:
            if tries:
                QTimer.singleShot(10, lambda: run(tries - 1))
            else:
                errors.append("no dialog opened")
            return
        try:
            fill(d)
        except Exception as exc:
            errors.append(repr(exc))
            d.reject()

    QTimer.singleShot(0, run)
    return errors


def build(qtbot: QtBot, tab: BundlesTab, phrase: str = PHRASE) -> None:
    with qtbot.waitSignal(tab.workers.idle, timeout=20000):
        assert tab.start_build(str(tab.key_combo.currentData()), phrase) is not None


def verify(qtbot: QtBot, tab: BundlesTab, path: Path) -> None:
    with qtbot.waitSignal(tab.workers.idle, timeout=20000):
        assert tab.verify_file(path) is not None


def test_empty_states_say_what_to_do(tab: BundlesTab) -> None:
    assert "No INT8 model found" in tab.form.artefact_hint.text()
    assert "Choose the validation report and the model" in tab.gate.grid.itemAt(0).widget().text()
    assert "No signing key yet" in tab.key_hint.text()
    assert not tab.build_button.isEnabled()
    hint = tab.build_hint.text()
    assert "generate or choose a signing key" in hint and "firmware app image" in hint
    assert tab.registry_stack.currentWidget() is tab.registry_empty
    assert "No bundle verified yet" in tab.verdict.code.text()
    assert "UNKNOWN_KEY" in tab.trust_label.text()


def test_compose_sign_build_verify_and_register(
    qtbot: QtBot, tab: BundlesTab, workspace: Workspace
) -> None:
    paths = write_release(workspace.path, 4)
    tab.rescan()
    f = tab.form
    assert f.components["model"].path() == str(paths["model"])
    assert f.report.path() == str(paths["report"])
    assert f.components["thresholds"].path() == str(paths["thresholds"])
    assert f.threshold_version.text() == "thresh-v3"
    fill(tab, paths)
    assert tab.gate.result is not None and tab.gate.result.passed
    assert all(ok for _, ok, _ in tab.gate.rows) and len(tab.gate.rows) == 6

    assert tab.generate_key("release", PHRASE)
    info = KeyStore().info("release")
    assert info.private_path.stat().st_mode & 0o777 == 0o600
    assert not str(info.private_path).startswith(str(workspace.path))
    assert tab.build_button.isEnabled(), tab.build_hint.text()

    build(qtbot, tab)
    out = workspace.path / "bundles" / "edge-inference-v2.4.1.fbb"
    assert out.is_file(), tab.build_status.text()
    assert "registered as #1" in tab.build_status.text()
    [entry] = BundleRegistry(workspace.path).entries()
    assert (entry.bundle_id, entry.rollback_target) == (
        "edge-inference-v2.4.1",
        "edge-inference-v2.3.1",
    )
    assert tab.registry_stack.currentWidget() is tab.registry
    assert tab.registry.item(0, 7).text() == "edge-inference-v2.3.1 (not built here)"

    verify(qtbot, tab, out)
    assert tab.verdict.verdict is not None and tab.verdict.verdict.ok
    assert "OK" in tab.verdict.code.text()
    rows = {
        tab.verdict.table.item(r, 0).text(): tab.verdict.table.item(r, 1).text()
        for r in range(tab.verdict.table.rowCount())
    }
    assert rows["bundleId"] == "edge-inference-v2.4.1" and rows["profile"] == "safety-critical"

    # The same file, corrupted in the model component: the verdict names it.
    bad = workspace.path / "corrupt.fbb"
    data = bytearray(out.read_bytes())
    data[len(data) - 8000] ^= 0x01
    bad.write_bytes(bytes(data))
    verify(qtbot, tab, bad)
    assert tab.verdict.verdict is not None and not tab.verdict.verdict.ok
    assert tab.verdict.code.text().endswith("HASH_MISMATCH:model")
    # A device at a later epoch refuses it as a downgrade.
    tab.min_epoch.setValue(5)
    verify(qtbot, tab, out)
    assert tab.verdict.code.text().endswith("EPOCH_TOO_LOW")


def test_gate_failures_show_red_sentences_and_need_an_override(
    qtbot: QtBot, tab: BundlesTab, workspace: Workspace
) -> None:
    paths = write_release(workspace.path, 4, pool=20000, latency=80.0)
    tab.rescan()
    fill(tab, paths)
    tab.generate_key("k", PHRASE)
    result = tab.gate.result
    assert result is not None and set(result.failed) == {"ram_budget", "latency_budget"}
    details = {name: (ok, text) for name, ok, text in tab.gate.rows}
    assert details["ram_budget"] == (False, "pool 20000 B vs peakRamBudgetBytes 12288 B")
    assert tab.gate.title.text().startswith("2 checks fail")
    assert not tab.build_button.isEnabled()
    assert "override reason" in tab.build_hint.text()
    # Raising the budget in the form re-evaluates the gate.
    tab.form.ram.setValue(32768)
    tab.evaluate_gate()
    assert tab.gate.result is not None and tab.gate.result.failed == ("latency_budget",)
    tab.override.setText("field trial on mains power")
    assert tab.build_button.isEnabled()
    build(qtbot, tab)
    [entry] = BundleRegistry(workspace.path).entries()
    assert entry.gate_override == "override [latency_budget]: field trial on mains power"
    assert tab.registry.item(0, 9).text() == "override"


def test_wrong_passphrase_and_existing_bundle_are_clear_errors(
    qtbot: QtBot, tab: BundlesTab, workspace: Workspace
) -> None:
    paths = write_release(workspace.path, 4)
    tab.rescan()
    fill(tab, paths)
    tab.generate_key("k", PHRASE)
    build(qtbot, tab, "not the passphrase")
    assert "wrong passphrase" in tab.build_status.text()
    assert not (workspace.path / "bundles").exists()
    build(qtbot, tab)
    build(qtbot, tab)
    assert "already exists" in tab.build_status.text()
    assert len(BundleRegistry(workspace.path).entries()) == 1


def test_missing_component_file_is_named(
    qtbot: QtBot, tab: BundlesTab, workspace: Workspace
) -> None:
    paths = write_release(workspace.path, 4)
    tab.rescan()
    fill(tab, paths)
    tab.generate_key("k", PHRASE)
    paths["calibration"].unlink()
    build(qtbot, tab)
    assert "missing bundle components: calibration" in tab.build_status.text()
    assert not (workspace.path / "bundles" / "edge-inference-v2.4.1.fbb").exists()


def test_diff_and_registry_of_two_releases(
    qtbot: QtBot, tab: BundlesTab, workspace: Workspace
) -> None:
    tab.generate_key("k", PHRASE)
    for release in (3, 4):
        paths = write_release(workspace.path, release)
        tab.rescan()
        fill(tab, paths, release)
        tab.form.model_version.setText(f"int8-anomaly-detect-0.9.{release - 2}")
        tab.evaluate_gate()
        build(qtbot, tab)
    entries = BundleRegistry(workspace.path).entries()
    assert [e.bundle_id for e in entries] == ["edge-inference-v2.3.1", "edge-inference-v2.4.1"]
    assert tab.registry.rowCount() == 2
    assert tab.registry.item(1, 7).text() == "edge-inference-v2.3.1"  # built here: no note
    assert tab.form.rollback_target.findText("edge-inference-v2.3.1") >= 0

    tab.registry.selectAll()
    assert tab.diff_selected()
    summary = tab.diff_summary.text()
    assert "edge-inference-v2.3.1 → edge-inference-v2.4.1" in summary
    assert "firmware fw-1.7.0 → fw-1.8.0" in summary and "model" in summary
    changed = {c.path for c in tab.diff_changes}
    assert {"bundleId", "firmwareVersion", "epoch", "components.model.sha256"} <= changed
    assert tab.diff_changes[0].is_version
    # A file that is not a bundle: a sentence, no crash.
    junk = workspace.path / "junk.fbb"
    junk.write_bytes(b"not a bundle at all" * 10)
    tab.diff_new.setText(str(junk))
    assert not tab.compare()
    assert "not a readable bundle" in tab.diff_summary.text()


def test_verify_drop_and_unknown_key(
    qtbot: QtBot, tab: BundlesTab, workspace: Workspace, tmp_path: Path
) -> None:
    paths = write_release(workspace.path, 4)
    tab.rescan()
    fill(tab, paths)
    tab.generate_key("k", PHRASE)
    build(qtbot, tab)
    out = workspace.path / "bundles" / "edge-inference-v2.4.1.fbb"
    # A verifier whose key store lacks the signer: UNKNOWN_KEY.
    tab.store = KeyStore(tmp_path / "other-keys")
    tab.refresh_keys()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(out))])
    with qtbot.waitSignal(tab.workers.idle, timeout=20000):
        event = QDropEvent(
            QPointF(10, 10),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
        )
        tab.drop.dropEvent(event)
    assert tab.verdict.code.text().endswith("UNKNOWN_KEY")
    assert "import its public key" in tab.verdict.sentence.text()
    # Trusting the signer's exported public key fixes it.
    pub = KeyStore().export_public("k", tmp_path / "k.pub.pem")
    assert tab.trust_key(pub)
    assert "+ 1 imported here" in tab.trust_label.text()
    verify(qtbot, tab, out)
    assert tab.verdict.verdict is not None and tab.verdict.verdict.ok


def test_key_and_passphrase_dialogs_validate(qtbot: QtBot, tab: BundlesTab) -> None:
    dialog = NewKeyDialog()
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    dialog.name.setText("bad/name")
    dialog.first.setText(PHRASE)
    dialog.second.setText(PHRASE)
    assert not ok.isEnabled() and "no slashes" in dialog.problem.text()
    dialog.name.setText("good")
    dialog.second.setText("different!")
    assert not ok.isEnabled() and "differ" in dialog.problem.text()
    dialog.second.setText(PHRASE)
    assert ok.isEnabled()
    short = PassphraseDialog("t", "p", confirm=True)
    qtbot.addWidget(short)
    short.first.setText("short")
    short.second.setText("short")
    assert "at least 8" in short.problem.text()

    # The tab's own dialog flow: generate a key through the modal dialog.
    def answer(d: QDialog) -> None:
        assert isinstance(d, NewKeyDialog)
        d.name.setText("from-dialog")
        d.first.setText(PHRASE)
        d.second.setText(PHRASE)
        d.buttons.button(QDialogButtonBox.StandardButton.Ok).click()

    errors = answer_later(tab, answer)
    tab.generate_key_dialog()
    assert errors == []
    assert tab.key_combo.currentData() == "from-dialog"
    assert QApplication.activeModalWidget() is None


def test_the_main_window_has_the_tab_and_it_follows_the_workspace(
    make_window,  # type: ignore[no-untyped-def]
    workspace: Workspace,
) -> None:
    write_release(workspace.path, 4)
    window = make_window()
    tab = window.bundles_tab
    assert window.tabs.tabText(window.tabs.indexOf(tab)) == "Bundles"
    assert window.open_workspace(workspace.path)
    assert tab.workspace is not None and tab.workspace.path == workspace.path
    assert tab.form.components["model"].path().endswith("m-int8.onnx")
    # Another workspace while the tab is showing: the tab follows.
    window.tabs.setCurrentWidget(tab)
    other = Workspace.create(workspace.path.parent / "other", "other")
    assert window.open_workspace(other.path)
    assert tab.workspace is not None and tab.workspace.path == other.path
    assert tab.form.components["model"].path() == ""


def test_the_build_job_reports_progress_and_cancels_without_writing(
    tab: BundlesTab, workspace: Workspace
) -> None:
    paths = write_release(workspace.path, 4)
    tab.rescan()
    fill(tab, paths)
    tab.generate_key("k", PHRASE)
    out = tab.output_path()
    with pytest.raises(Cancelled):
        run_build(
            tab.form.mapping(),
            workspace.path,
            "k",
            PHRASE,
            out,
            None,
            workspace.path,
            cancel=lambda: True,
        )
    assert not out.exists() and BundleRegistry(workspace.path).entries() == []
    seen: list[float] = []
    outcome = run_build(
        tab.form.mapping(),
        workspace.path,
        "k",
        PHRASE,
        out,
        None,
        workspace.path,
        progress=seen.append,
    )
    assert seen == [0.25, 0.5, 0.75, 1.0]
    assert outcome.built.path == out and outcome.entry.ordinal == 1
    tab.evaluate_gate()
    assert "already built" in tab.build_hint.text() and not tab.build_button.isEnabled()


def test_a_spec_file_fills_the_form(tab: BundlesTab, workspace: Workspace) -> None:
    paths = write_release(workspace.path, 4)
    root = workspace.path
    spec = root / "release.toml"
    spec.write_text(
        f"""
bundleId = "edge-inference-v2.5.0"
firmwareVersion = "fw-2.0.0"
modelVersion = "int8-anomaly-detect-1.0.0"
thresholdVersion = "thresh-v3"
calibrationVersion = "calib-v2"
versionNumbers = [512, 100, 3, 2]
profile = "industrial-sensors"
epoch = 7
report = "{paths["report"].relative_to(root)}"
[metadata]
maxLatencyMs = 50
peakRamBudgetBytes = 16384
[target]
boardId = "esp32-s3-devkitc-1"
flashSize = 8388608
partitionTable = "{paths["partitions"].relative_to(root)}"
[components]
firmware = "{paths["firmware"].relative_to(root)}"
model = "{paths["model"].relative_to(root)}"
thresholds = "{paths["thresholds"].relative_to(root)}"
calibration = "{paths["calibration"].relative_to(root)}"
driftBaseline = "{paths["drift_baseline"].relative_to(root)}"
selftest = "{paths["selftest"].relative_to(root)}"
"""
    )
    tab.load_spec(spec)
    f = tab.form
    assert f.bundle_id.text() == "edge-inference-v2.5.0" and f.epoch.value() == 7
    assert [b.value() for b in f.version_numbers] == [512, 100, 3, 2]
    assert f.profile.currentData() == "industrial-sensors" and f.ram.value() == 16384
    assert f.components["selftest"].path() == str(paths["selftest"])
    assert f.missing() == []
    assert tab.gate.result is not None and tab.gate.result.passed
    bad = root / "bad.toml"
    bad.write_text("bundleId = [")
    tab.load_spec(bad)
    assert "not valid TOML" in tab.build_status.text()


def test_the_build_button_asks_the_passphrase_in_a_dialog(
    qtbot: QtBot, tab: BundlesTab, workspace: Workspace
) -> None:
    paths = write_release(workspace.path, 4)
    tab.rescan()
    fill(tab, paths)
    tab.generate_key("k", PHRASE)

    def answer(phrase: str | None) -> Callable[[QDialog], None]:
        def fill(d: QDialog) -> None:
            assert isinstance(d, PassphraseDialog) and d.windowTitle() == "Unlock signing key"
            if phrase is None:
                d.reject()
            else:
                d.first.setText(phrase)
                d.buttons.button(QDialogButtonBox.StandardButton.Ok).click()

        return fill

    errors = answer_later(tab, answer(None))
    assert tab.build() is None
    assert errors == [] and "no passphrase given" in tab.build_status.text()
    assert tab.build_button.isEnabled(), tab.build_hint.text()
    errors = answer_later(tab, answer(PHRASE))
    with qtbot.waitSignal(tab.workers.idle, timeout=20000):
        qtbot.mouseClick(tab.build_button, Qt.MouseButton.LeftButton)
    assert errors == []
    assert (workspace.path / "bundles" / "edge-inference-v2.4.1.fbb").is_file()
