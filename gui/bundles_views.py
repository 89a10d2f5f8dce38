"""Views of the Bundles tab: gate checks, verification verdict, drop zone, manifest diff,
registry table and the key dialogs. Each takes plain core objects; none runs long work."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.bundle.format import BundleFormatError, BundleHeader, Manifest, split_bundle
from core.bundle.gate import GateResult
from core.bundle.keys import MIN_PASSPHRASE, NAME_RE
from core.bundle.registry import RegistryEntry
from core.bundle.verify import Verdict
from core.errors import InputFileError

GREEN = "#1b7f3b"
RED = "#b00020"
GREY = "#666666"
VERSION_FIELDS = (
    "bundleId",
    "firmwareVersion",
    "modelVersion",
    "thresholdVersion",
    "calibrationVersion",
    "versionNumbers",
    "epoch",
    "rollbackTarget",
)


def _chip(text: str, colour: str) -> QLabel:
    chip = QLabel(text)
    chip.setAlignment(Qt.AlignmentFlag.AlignCenter)
    chip.setMinimumWidth(44)
    chip.setStyleSheet(
        f"background: {colour}; color: white; font-weight: bold; border-radius: 3px;"
        " padding: 1px 6px;"
    )
    return chip


def _clear(layout: Any) -> None:
    while layout.count():
        item = layout.takeAt(0)
        w = item.widget()
        if w is not None:
            w.hide()
            w.setParent(None)
            w.deleteLater()


class GatePanel(QWidget):
    """Each gate check as a PASS/FAIL chip with its sentence, or why no check can run yet."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title.setFont(font)
        self.title.setWordWrap(True)
        self.grid = QGridLayout()
        self.grid.setColumnStretch(1, 1)
        self.grid.setHorizontalSpacing(8)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.title)
        lay.addLayout(self.grid)
        self.result: GateResult | None = None
        self.rows: list[tuple[str, bool, str]] = []

    def show_result(self, result: GateResult) -> None:
        self.result = result
        self.rows = [(c.name, c.passed, c.detail) for c in result.checks]
        if result.passed:
            self.title.setText("Every check passes")
            self.title.setStyleSheet(f"color: {GREEN};")
        else:
            n = len(result.failed)
            self.title.setText(
                f"{n} check{'s' if n > 1 else ''} fail{'' if n > 1 else 's'} — fix "
                f"{'them' if n > 1 else 'it'}, or give an override reason (signed into the "
                "manifest)"
            )
            self.title.setStyleSheet(f"color: {RED};")
        _clear(self.grid)
        for row, (name, ok, detail) in enumerate(self.rows):
            chip = _chip("PASS" if ok else "FAIL", GREEN if ok else RED)
            self.grid.addWidget(chip, row, 0, Qt.AlignmentFlag.AlignTop)
            text = QLabel(f"<b>{name.replace('_', ' ')}</b> — {html.escape(detail)}")
            text.setWordWrap(True)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.grid.addWidget(text, row, 1)

    def show_problem(self, sentence: str) -> None:
        """No gate result: the spec is incomplete or a file is unreadable."""
        self.result = None
        self.rows = []
        _clear(self.grid)
        self.title.setText("Not evaluated yet")
        self.title.setStyleSheet(f"color: {GREY};")
        text = QLabel(sentence)
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.grid.addWidget(text, 0, 0, 1, 2)


class DropZone(QFrame):
    """A dashed frame that accepts dropped files; ``dropped(path)`` for the first one."""

    dropped = Signal(str)

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setObjectName("dropZone")
        self.setMinimumHeight(64)
        self._style(False)
        self.label = QLabel(text)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setWordWrap(True)
        self.box = QVBoxLayout(self)
        self.box.addWidget(self.label)

    def _style(self, hot: bool) -> None:
        colour = "#2a6fdb" if hot else "#9a9a9a"
        self.setStyleSheet(
            f"QFrame#dropZone {{ border: 2px dashed {colour}; border-radius: 6px; }}"
        )

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
            self._style(True)

    def dragLeaveEvent(self, event: Any) -> None:
        self._style(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self._style(False)
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.dropped.emit(files[0])


class VerdictPanel(QWidget):
    """The verdict in large type (green OK / red reason code), its sentence and the manifest."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.code = QLabel()
        font = QFont(self.code.font())
        font.setPointSizeF(font.pointSizeF() * 2.4)
        font.setBold(True)
        self.code.setFont(font)
        self.code.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sentence = QLabel()
        big = QFont(self.sentence.font())
        big.setPointSizeF(big.pointSizeF() * 1.2)
        self.sentence.setFont(big)
        self.sentence.setWordWrap(True)
        self.sentence.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.file = QLabel()
        self.file.setWordWrap(True)
        self.file.setStyleSheet(f"color: {GREY};")
        self.table = FieldTable(("Field", "Value"))
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.code)
        lay.addWidget(self.sentence)
        lay.addWidget(self.file)
        lay.addWidget(self.table, 1)
        self.verdict: Verdict | None = None
        self.clear()

    def clear(self) -> None:
        self.verdict = None
        self.code.setText("No bundle verified yet")
        self.code.setStyleSheet(f"color: {GREY};")
        self.sentence.setText(
            "Drop a .fbb bundle file above or press Open bundle…; it is checked exactly as a "
            "device checks it (header, signature, target, epoch, every component's SHA-256)."
        )
        self.file.setText("")
        self.table.set_rows([])

    def show_verdict(self, path: str, verdict: Verdict) -> None:
        self.verdict = verdict
        self.code.setText(("✔ " if verdict.ok else "✘ ") + verdict.reason)
        self.code.setStyleSheet(f"color: {GREEN if verdict.ok else RED};")
        self.sentence.setText(verdict.message().split(": ", 1)[-1])
        signer = f" · signed by {verdict.signer.name or 'key'}" if verdict.signer else ""
        self.file.setText(f"{path}{signer}")
        self.table.set_rows(manifest_rows(verdict.header, verdict.manifest))


class FieldTable(QTableWidget):
    """A read-only table of text rows; rows whose key is in ``bold`` are bold."""

    def __init__(self, headers: tuple[str, ...], parent: QWidget | None = None) -> None:
        super().__init__(0, len(headers), parent)
        self.setHorizontalHeaderLabels(list(headers))
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.verticalHeader().setVisible(False)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        head = self.horizontalHeader()
        for i in range(len(headers) - 1):
            head.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(len(headers) - 1, QHeaderView.ResizeMode.Stretch)

    def set_rows(
        self, rows: Sequence[Sequence[str]], bold: set[str] | None = None, colour: str = ""
    ) -> None:
        self.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if bold and row[0].split(".")[0] in bold:
                    f = item.font()
                    f.setBold(True)
                    item.setFont(f)
                    if colour:
                        item.setForeground(QColor(colour))
                self.setItem(r, c, item)


def _flat(value: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = {}
        for i, v in enumerate(value):
            name = str(v.get("name", i))
            out.update(_flat({kk: vv for kk, vv in v.items() if kk != "name"}, f"{prefix}{name}."))
        return out
    if isinstance(value, list):
        return {prefix[:-1]: ", ".join(map(str, value))}
    return {prefix[:-1]: "" if value is None else str(value)}


def manifest_rows(header: BundleHeader | None, manifest: Manifest | None) -> list[tuple[str, str]]:
    """The manifest as (JSON path, value) rows, header sizes first."""
    rows: list[tuple[str, str]] = []
    if header is not None:
        rows.append(("header.versions", ", ".join(map(str, header.versions))))
        rows.append(("header.payloadSize", f"{header.payload_size} B"))
    if manifest is not None:
        rows += list(_flat(manifest.to_json()).items())
    return rows


@dataclass(frozen=True)
class Change:
    path: str
    old: str
    new: str

    @property
    def is_version(self) -> bool:
        return self.path.split(".")[0] in VERSION_FIELDS


def read_manifest(path: str | Path) -> tuple[BundleHeader, Manifest]:
    """Header and manifest of a bundle file, without verifying it (for diff and inspect)."""
    p = Path(path)
    try:
        header, body, _, _ = split_bundle(p.read_bytes())
        return header, Manifest.decode(body)
    except OSError as exc:
        raise InputFileError(f"{p}: cannot read ({exc.strerror})") from None
    except BundleFormatError as exc:
        raise InputFileError(f"{p}: not a readable bundle ({exc})") from None


def manifest_changes(old: Manifest, new: Manifest) -> list[Change]:
    """Every manifest field that differs, versions first (same paths as `bundle diff`)."""
    a, b = _flat(old.to_json()), _flat(new.to_json())
    changes = [
        Change(k, a.get(k, "—"), b.get(k, "—"))
        for k in sorted(set(a) | set(b))
        if a.get(k) != b.get(k)
    ]
    return sorted(changes, key=lambda c: (not c.is_version, c.path))


def change_summary(old: Manifest, new: Manifest, changes: list[Change]) -> str:
    """One sentence: which of the four versions changed, and how many other fields."""
    if not changes:
        return "The two manifests are identical."
    pairs = (
        ("firmware", old.firmware_version, new.firmware_version),
        ("model", old.model_version, new.model_version),
        ("thresholds", old.threshold_version, new.threshold_version),
        ("calibration", old.calibration_version, new.calibration_version),
    )
    moved = [f"{n} {a} → {b}" for n, a, b in pairs if a != b]
    same = [n for n, a, b in pairs if a == b]
    others = len([c for c in changes if not c.is_version])
    text = f"{old.bundle_id} → {new.bundle_id}: "
    text += ("; ".join(moved) if moved else "no component version changed") + "."
    if same and moved:
        text += f" Unchanged: {', '.join(same)}."
    if others:
        text += f" {others} other field(s) differ (digests, budgets, target…)."
    return text


class RegistryTable(FieldTable):
    """Built bundles with their versions and rollback targets."""

    HEADERS = (
        "#",
        "Bundle",
        "Firmware",
        "Model",
        "Thresholds",
        "Calibration",
        "Epoch",
        "Rollback target",
        "Profile",
        "Gate",
        "File",
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(self.HEADERS, parent)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.entries: list[RegistryEntry] = []

    def set_entries(self, entries: list[RegistryEntry]) -> None:
        self.entries = sorted(entries, key=lambda e: e.ordinal)
        ids = {e.bundle_id for e in self.entries}
        rows = []
        for e in self.entries:
            rb = e.rollback_target or "none"
            if e.rollback_target and e.rollback_target not in ids:
                rb += " (not built here)"
            rows.append(
                (
                    str(e.ordinal),
                    e.bundle_id,
                    e.versions.get("firmware", ""),
                    e.versions.get("model", ""),
                    e.versions.get("threshold", ""),
                    e.versions.get("calibration", ""),
                    str(e.epoch),
                    rb,
                    e.profile,
                    "override" if e.gate_override else "passed",
                    e.file,
                )
            )
        self.set_rows(rows)
        for r, e in enumerate(self.entries):
            gate = self.item(r, 9)
            if gate is None:
                continue
            gate.setForeground(QColor(RED if e.gate_override else GREEN))
            if e.gate_override:
                gate.setToolTip(e.gate_override)

    def selected_entries(self) -> list[RegistryEntry]:
        rows = sorted({i.row() for i in self.selectedIndexes()})
        return [self.entries[r] for r in rows if r < len(self.entries)]


class PassphraseDialog(QDialog):
    """Asks a key's passphrase (twice when creating one); OK stays off until it is usable."""

    def __init__(
        self, title: str, prompt: str, confirm: bool = False, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.confirm = confirm
        self.first = QLineEdit()
        self.first.setEchoMode(QLineEdit.EchoMode.Password)
        self.second = QLineEdit()
        self.second.setEchoMode(QLineEdit.EchoMode.Password)
        self.problem = QLabel()
        self.problem.setStyleSheet(f"color: {RED};")
        self.problem.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = self.form = QFormLayout()
        intro = QLabel(prompt)
        intro.setWordWrap(True)
        form.addRow(intro)
        form.addRow("Passphrase", self.first)
        if confirm:
            form.addRow("Again", self.second)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.problem)
        lay.addWidget(self.buttons)
        self.first.textChanged.connect(self._check)
        self.second.textChanged.connect(self._check)
        self._check()

    def _check(self) -> None:
        text = self.first.text()
        problem = ""
        if not text:
            problem = ""
        elif self.confirm and len(text) < MIN_PASSPHRASE:
            problem = f"at least {MIN_PASSPHRASE} characters"
        elif self.confirm and self.second.text() != text:
            problem = "the two passphrases differ"
        self.problem.setText(problem)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(bool(text) and not problem)

    def passphrase(self) -> str:
        return self.first.text()


class NewKeyDialog(PassphraseDialog):
    """Name and passphrase of a new signing key."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self.name = QLineEdit()
        super().__init__(
            "Generate signing key",
            "A new ECDSA P-256 key, stored encrypted (0600) in your user config folder — never "
            "in a workspace. Keep the passphrase; it cannot be recovered.",
            confirm=True,
            parent=parent,
        )
        self.name.setPlaceholderText("e.g. release-2026")
        self.form.insertRow(1, "Key name", self.name)
        self.name.textChanged.connect(self._check)
        self._check()

    def _check(self) -> None:
        super()._check()
        if not hasattr(self, "name"):
            return
        name = self.name.text()
        if name and not NAME_RE.match(name):
            self.problem.setText("key name: letters, digits, '-', '_' or '.' (no slashes)")
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(ok.isEnabled() and bool(NAME_RE.match(name)))

    def key_name(self) -> str:
        return self.name.text().strip()


def empty_label(text: str) -> QLabel:
    """A centred grey sentence for an empty view."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setStyleSheet(f"color: {GREY}; padding: 24px;")
    return label


def button(text: str, tip: str) -> QPushButton:
    b = QPushButton(text)
    b.setToolTip(tip)
    return b
