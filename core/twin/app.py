"""The twin's application side as a child process: ``node_twin serve`` from the firmware's host
build (the portable node code on the host port), reachable by a port name.

``AppTwin`` starts it, reads the port it listens on, forwards control lines (sensor parameters
and faults, battery level, reboot, failing health checks) and stops it. The child reads its
control input from a pipe and exits when the pipe closes, so it never outlives the program that
started it.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from core.errors import FieldbenchError

START_TIMEOUT_S = 10.0


class TwinError(FieldbenchError):
    """The twin could not start or stopped answering."""


def node_twin_binary() -> Path:
    """The ``node_twin`` executable of the firmware host build."""
    env = os.environ.get("FIELDBENCH_NODE_TWIN")
    if env:
        return Path(env)
    root = Path(__file__).resolve().parent.parent.parent
    return root / "build" / "host" / "node" / "node_twin"


class AppTwin:
    """One running ``node_twin serve`` over ``flash``.

    Parameters
    ----------
    flash
        The 8 MB flash image file (provision it first: ``core.twin.factory.provision_twin``).
    trust
        DER public key files the twin accepts bundle signatures from.
    listen
        TCP port on 127.0.0.1 (0: any free one); ignored with ``pty``.
    sensor
        Simulator parameters, ``"key=value,..."`` (docs/device.md, "Sensor simulator").
    """

    def __init__(
        self,
        flash: str | os.PathLike[str],
        *,
        trust: Sequence[str | os.PathLike[str]] = (),
        listen: int = 0,
        pty: bool = False,
        sensor: str = "",
        battery: int = 100,
        board: str = "",
        speed: float = 1.0,
        binary: Path | None = None,
    ) -> None:
        exe = binary or node_twin_binary()
        if not exe.exists():
            raise TwinError(
                f"{exe} is missing: build the firmware host build first (make firmware-host)"
            )
        self.flash = Path(flash)
        args = [str(exe), "serve", "--flash", str(self.flash), "--battery", str(battery)]
        args += ["--speed", repr(speed)]
        args += ["--pty"] if pty else ["--listen", str(listen)]
        for t in trust:
            args += ["--trust", str(t)]
        if sensor:
            args += ["--sensor", sensor]
        if board:
            args += ["--board", board]
        self.args = args
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.boots: list[dict[str, Any]] = []
        self.stderr_tail: list[str] = []
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self.port = ""
        self.pid = 0

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self) -> AppTwin:
        self._proc = subprocess.Popen(
            self.args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert self._proc.stdout is not None and self._proc.stderr is not None
        threading.Thread(target=self._read_events, args=(self._proc.stdout,), daemon=True).start()
        threading.Thread(target=self._read_stderr, args=(self._proc.stderr,), daemon=True).start()
        first = self._next_event(START_TIMEOUT_S, ("listening", "error"))
        if first is None or first.get("event") != "listening":
            why = (first or {}).get("error") or " ".join(self.stderr_tail[-3:]) or "no answer"
            self.stop()
            raise TwinError(f"the twin did not start: {why}")
        self.port = str(first["port"])
        self.pid = int(first["pid"])
        if self._next_event(START_TIMEOUT_S, ("boot",)) is None:
            self.stop()
            raise TwinError("the twin did not boot")
        return self

    def _read_events(self, stream: IO[str]) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._pump_events(stream)

    def _pump_events(self, stream: IO[str]) -> None:
        for line in stream:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(event, dict):
                if event.get("event") == "boot":
                    self.boots.append(event)
                self.events.put(event)

    def _read_stderr(self, stream: IO[str]) -> None:
        with contextlib.suppress(OSError, ValueError):
            for line in stream:
                self.stderr_tail = [*self.stderr_tail, line.rstrip()][-20:]

    def _next_event(self, timeout: float, kinds: Sequence[str]) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                return None
            if event.get("event") in kinds:
                return event

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def control(self, line: str, timeout: float = 5.0) -> dict[str, Any]:
        """Send one control line (``sensor k=v``, ``battery N``, ``reboot``,
        ``status``) and return the twin's answer."""
        if self._proc is None or self._proc.stdin is None or not self.running:
            raise TwinError("the twin is not running")
        with self._lock:
            self._proc.stdin.write(line.strip() + "\n")
            self._proc.stdin.flush()
            answer = self._next_event(timeout, ("control",))
        if answer is None:
            raise TwinError(f"the twin did not answer {line.split()[0]!r}")
        if not answer.get("ok"):
            raise TwinError(f"twin: {line.split()[0]}: {answer.get('error', 'refused')}")
        return answer

    def kill(self) -> None:
        """SIGKILL: a power cut (the flash file keeps whatever was written)."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=5)
        self._release(proc)

    def stop(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None and proc.stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.write("quit\n")
                proc.stdin.flush()
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=3)
        self._release(proc)

    def _release(self, proc: subprocess.Popen[str]) -> None:
        for s in (proc.stdin, proc.stdout, proc.stderr):
            if s is not None:
                with contextlib.suppress(OSError, ValueError):
                    s.close()
        self._proc = None

    def __enter__(self) -> AppTwin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
