"""Console entry point: the headless CLI, or the app when no command is given.

Qt is imported only when the app actually starts, so ``fieldbench features`` stays headless.
"""

from __future__ import annotations

import sys
from pathlib import Path

from core.cli import main as cli_main


def _run_app(workspace: Path | None, sample: bool) -> int:
    try:
        from gui.app import run
    except ImportError as exc:
        print(f"fieldbench: error: the desktop app cannot start ({exc})", file=sys.stderr)
        return 2
    return run(workspace=workspace, sample=sample)


def _qt_renders() -> bool:
    """Self-test check: Qt and pyqtgraph import and render one plot offscreen."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        import pyqtgraph as pg
        from PySide6.QtWidgets import QApplication
    except ImportError:
        return False
    app = QApplication.instance() or QApplication([])
    widget = pg.PlotWidget()
    widget.plot([0.0, 1.0, 0.5])
    ok = not widget.grab().isNull()
    widget.deleteLater()
    del app
    return ok


def main() -> int:
    return cli_main(
        sys.argv[1:], gui_runner=_run_app, extra_checks={"Qt + pyqtgraph render": _qt_renders}
    )


if __name__ == "__main__":
    raise SystemExit(main())
