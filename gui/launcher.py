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


def main() -> int:
    return cli_main(sys.argv[1:], gui_runner=_run_app)


if __name__ == "__main__":
    raise SystemExit(main())
