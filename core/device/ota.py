"""The OTA client: install a signed bundle into a device's inactive slot (docs/protocol.md §10.4).

``install_bundle`` sends ``OTA_BEGIN`` (size, SHA-256, header ‖ manifest ‖ signature), then
4 KiB chunks with their CRC-32 **in order from the durable offset the device reports**, so an
interrupted transfer — a lost frame, a closed port, a device reboot — resumes where the flash
holds verified bytes and re-sends at most the one unacknowledged chunk. ``OTA_END`` makes the
device read the whole bundle back and verify it (digest, signature, hashes, target, epoch)
before ``OTA_COMMIT`` may switch slots; after the trial boot the device's own INFO says whether
the bundle passed its health check or was reverted.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from core.bundle.format import MAGIC, BundleFormatError, BundleHeader
from core.device.client import (
    DeviceClient,
    DeviceDisconnected,
    DeviceError,
    DeviceRefused,
    DeviceTimeout,
)
from core.device.commands import DeviceInfo, confirm, identify, wait_for_boot
from core.errors import Cancelled
from core.link.messages import (
    MAX_OTA_PREFIX,
    OTA_CHUNK_SIZE,
    MsgType,
    OtaBegin,
    OtaChunk,
    OtaError,
    OtaResponse,
    OtaState,
    OtaStatus,
    ota_error,
)

ProgressFn = Callable[[float], None]
CancelFn = Callable[[], bool]
END_TIMEOUT_S = 20.0  # the device reads back and verifies up to ~4 MB
MAX_RECONNECTS = 20
MAX_STALLS = 50  # answers that do not advance the durable offset, in a row


class OtaFailed(DeviceError):
    """The update did not install; the message says why and what still runs."""


@dataclass
class OtaReport:
    """What one ``install_bundle`` call did; counts are for logs, tests and benchmarks."""

    size: int
    sha256: str
    slot: int = -1
    resumed_from: int = 0
    chunks_sent: int = 0
    bytes_sent: int = 0
    bytes_resent: int = 0  # data bytes sent again after the first time (resumes, retries)
    max_resent_per_resume: int = 0
    reconnects: int = 0
    resumes: int = 0
    out_of_order: int = 0
    verified: bool = False
    committed: bool = False
    installed: bool = False
    after: DeviceInfo | None = None
    log: list[str] = field(default_factory=list)

    def message(self) -> str:
        if self.installed and self.after is not None:
            return (
                f"installed: slot {self.slot} runs {self.after.bundle_version or 'the bundle'} "
                "and passed its health check"
            )
        if self.committed and self.after is not None:
            why = f" ({self.after.boot_reason})" if self.after.boot_reason else ""
            return (
                f"the device reverted to slot {self.after.running_slot} "
                f"({self.after.bundle_version or 'previous bundle'}): the new bundle failed "
                f"its trial boot{why}"
            )
        if self.verified:
            return f"staged and verified in slot {self.slot}; not committed"
        return "not installed"


def bundle_prefix(bundle: bytes) -> bytes:
    """Header ‖ manifest ‖ signature: what OTA_BEGIN carries so the device can vet it first."""
    try:
        header = BundleHeader.decode(bundle[:64])
    except BundleFormatError as exc:
        raise OtaFailed(f"not a Fieldbench bundle ({exc})") from None
    if header.magic != MAGIC:
        raise OtaFailed(
            "not a Fieldbench bundle (no FBUN magic); build one with `fieldbench bundle`"
        )
    if header.total_size != len(bundle):
        raise OtaFailed(
            f"the bundle file is {len(bundle)} bytes but its header says {header.total_size}; "
            "it is truncated or has trailing data"
        )
    size = header.header_size + header.manifest_size + header.signature_size
    if size > MAX_OTA_PREFIX:
        raise OtaFailed(f"the bundle's manifest and signature ({size} bytes) are too large")
    return bundle[:size]


def read_bundle(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise OtaFailed(f"{path}: cannot read the bundle ({exc.strerror or exc})") from None


class OtaSession:
    """One transfer of ``bundle`` over ``client``; ``run()`` does it all."""

    def __init__(
        self,
        client: DeviceClient,
        bundle: bytes,
        *,
        restart: bool = False,
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
        max_reconnects: int = MAX_RECONNECTS,
    ) -> None:
        self.client = client
        self.bundle = bytes(bundle)
        self.prefix = bundle_prefix(self.bundle)
        self.sha = hashlib.sha256(self.bundle).digest()
        self.size = len(self.bundle)
        self.restart = restart
        self.progress = progress
        self.cancel = cancel
        self.max_reconnects = max_reconnects
        self.report = OtaReport(self.size, self.sha.hex())
        self._sent_up_to = 0  # highest data offset ever sent + its length
        self._resent_since_resume = 0

    # ---- steps ------------------------------------------------------------------------------
    def _check(self, status: OtaStatus, what: str) -> OtaStatus:
        if status.size != self.size or status.sha256 != self.sha:
            raise OtaFailed(
                f"{self.client.name}: {what}: the device reports a transfer of another bundle "
                f"({status.size} bytes); retry with --restart"
            )
        if status.durable_offset > self.size or (
            status.durable_offset % OTA_CHUNK_SIZE and status.durable_offset != self.size
        ):
            raise OtaFailed(
                f"{self.client.name}: {what}: the device reports a durable offset of "
                f"{status.durable_offset}, not on a 4 KiB boundary"
            )
        return status

    def begin(self) -> OtaStatus:
        req = OtaBegin(self.size, self.sha, self.prefix, restart=self.restart)
        self.restart = False  # a resume after a disconnect must keep what is stored
        msg = self.client.call(req.type, req.pack(), what="OTA begin", cancel=self.cancel)
        assert isinstance(msg, OtaResponse)
        status = self._check(msg.ota, "OTA begin")
        self.report.slot = status.slot
        return status

    def status(self) -> OtaStatus:
        msg = self.client.call(MsgType.OTA_STATUS, what="OTA status", cancel=self.cancel)
        assert isinstance(msg, OtaResponse)
        return msg.ota

    def send_chunk(self, offset: int) -> OtaStatus:
        data = self.bundle[offset : offset + OTA_CHUNK_SIZE]
        chunk = OtaChunk(offset, data, self.size, self.sha[:8])
        r = self.report
        r.chunks_sent += 1
        r.bytes_sent += len(data)
        if offset < self._sent_up_to:
            r.bytes_resent += len(data)
            self._resent_since_resume += len(data)
            r.max_resent_per_resume = max(r.max_resent_per_resume, self._resent_since_resume)
        self._sent_up_to = max(self._sent_up_to, offset + len(data))
        msg = self.client.call(chunk.type, chunk.pack(), what="OTA chunk", cancel=self.cancel)
        assert isinstance(msg, OtaResponse)
        return self._check(msg.ota, "OTA chunk")

    def _resume(self, why: str) -> int:
        """After a lost connection or an unanswered chunk: BEGIN again, continue where told."""
        r = self.report
        attempts = 0
        while True:
            attempts += 1
            if attempts > self.max_reconnects:
                raise OtaFailed(
                    f"{self.client.name}: the link kept failing ({attempts - 1} attempts to "
                    "resume); the device keeps every verified 4 KiB sector — run the install "
                    "again to resume"
                )
            r.log.append(f"resume after {why}")
            try:
                if why == "disconnect":
                    r.reconnects += 1
                    self.client.reconnect(cancel=self.cancel)
                status = self.begin()
            except DeviceDisconnected:
                why = "disconnect"
                continue
            except DeviceTimeout:
                why = "timeout"
                continue
            r.resumes += 1
            self._resent_since_resume = 0
            return status.durable_offset

    def transfer(self) -> None:
        """BEGIN, then chunks until the device holds the whole bundle durably."""
        r = self.report
        try:
            durable = self.begin().durable_offset
        except DeviceDisconnected:
            durable = self._resume("disconnect")
        r.resumed_from = durable
        stalls = 0
        while durable < self.size:
            if self.cancel is not None and self.cancel():
                self._cancelled(durable)
            try:
                status = self.send_chunk(durable)
            except Cancelled:
                self._cancelled(durable)
            except DeviceRefused as exc:
                if exc.code == ota_error(OtaError.WRONG_STATE):
                    # The device rebooted (its open transfer is gone, its journal is not).
                    durable = self._resume("device reset")
                    continue
                if exc.code != ota_error(OtaError.OUT_OF_ORDER):
                    raise
                r.out_of_order += 1
                status = self._check(self.status(), "OTA status")
                if status.state != OtaState.RECEIVING:
                    status = self._check(self.begin(), "OTA begin")
            except DeviceDisconnected:
                durable = self._resume("disconnect")
                continue
            except DeviceTimeout:
                durable = self._resume("timeout")
                continue
            new = status.durable_offset
            stalls = 0 if new > durable else stalls + 1
            if stalls > MAX_STALLS:
                raise OtaFailed(
                    f"{self.client.name}: the device stopped accepting chunks at offset {durable}"
                )
            durable = new
            if self.progress is not None:
                self.progress(0.95 * durable / self.size)

    def _cancelled(self, durable: int) -> NoReturn:
        self.abort()
        raise Cancelled(
            f"OTA cancelled at {durable} of {self.size} bytes; the device keeps the verified "
            "part and a later install resumes there"
        )

    def end(self) -> OtaStatus:
        """Ask the device to read back and verify the whole bundle (nothing switches yet)."""
        try:
            msg = self.client.call(MsgType.OTA_END, what="OTA verify", timeout=END_TIMEOUT_S)
        except DeviceRefused as exc:
            # A repeated END (its first answer was lost) may find the transfer verified already.
            if exc.code != ota_error(OtaError.WRONG_STATE):
                raise
            status = self.status()
            if status.state != OtaState.VERIFIED:
                raise
        else:
            assert isinstance(msg, OtaResponse)
            status = msg.ota
        if status.state != OtaState.VERIFIED:
            raise OtaFailed(f"{self.client.name}: the device did not verify the bundle")
        self.report.verified = True
        return status

    def commit(self) -> DeviceInfo:
        """Switch to the new slot; return what runs after the trial boot.

        When the link fails around the commit the device is asked what it runs: booted into
        the new slot, or reverted (the slot is INVALID), or not switched at all — then the
        stored transfer is verified and committed again.
        """
        r = self.report
        for _ in range(self.max_reconnects):
            after: DeviceInfo | None
            try:
                self.client.call(MsgType.OTA_COMMIT, what="OTA commit", retries=0)
                after = wait_for_boot(self.client, cancel=None)  # never cancel mid-reboot
            except (DeviceTimeout, DeviceDisconnected):
                after = self._identify_again()
            except DeviceRefused as exc:
                if exc.code != ota_error(OtaError.WRONG_STATE):
                    raise
                after = None
            if after is not None and self._switched(after):
                break
            r.log.append("commit did not happen; verifying and committing again")
            self._resume("commit not taken")
            self.end()
        else:
            raise OtaFailed(f"{self.client.name}: the device did not take the commit")
        r.committed = True
        r.after = after
        slot = after.slots[r.slot] if 0 <= r.slot < len(after.slots) else None
        if after.on_trial and after.running_slot == r.slot:
            # A device that defers the health check: run it now (CONFIRM).
            after = after.with_status(confirm(self.client))
            r.after = after
        r.installed = (
            after.running_slot == r.slot
            and not after.on_trial
            and slot is not None
            and (not slot.bundle_digest or slot.bundle_digest == self.sha[:8].hex())
        )
        return after

    def _switched(self, after: DeviceInfo) -> bool:
        """The commit took effect: the new slot runs, or it ran and was rejected."""
        if after.running_slot == self.report.slot:
            return True
        slot = after.slots[self.report.slot] if 0 <= self.report.slot < len(after.slots) else None
        return slot is not None and slot.state in ("INVALID", "ABORTED")

    def _identify_again(self) -> DeviceInfo:
        try:
            return identify(self.client)
        except DeviceDisconnected:
            self.client.reconnect()
            return identify(self.client)

    def abort(self) -> None:
        with contextlib.suppress(DeviceError):
            self.client.call(MsgType.OTA_ABORT, what="OTA abort", retries=0)

    def run(self, commit: bool = True) -> OtaReport:
        self.transfer()
        for _ in range(self.max_reconnects):
            try:
                self.end()
                break
            except DeviceDisconnected:
                self._resume("disconnect")
            except DeviceTimeout:
                self._resume("timeout")
            except DeviceRefused as exc:
                if exc.code != ota_error(OtaError.WRONG_STATE):
                    raise
                self._resume("device reset")
        else:
            raise OtaFailed(f"{self.client.name}: the device never confirmed the verification")
        if self.progress is not None:
            self.progress(0.97)
        if commit:
            self.commit()
        if self.progress is not None:
            self.progress(1.0)
        return self.report


def install_bundle(
    client: DeviceClient,
    bundle: bytes | str | Path,
    *,
    commit: bool = True,
    restart: bool = False,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> OtaReport:
    """Install ``bundle`` (bytes or a file) into the device's inactive slot.

    Resumes a partial transfer of the same bundle unless ``restart``. With ``commit`` the device
    reboots into the new bundle on trial; the report says whether it passed its health check
    (``installed``) or the device reverted. Raises ``DeviceRefused`` with the device's reason
    (wrong target, epoch too low, battery low, …), ``OtaFailed``, or ``Cancelled``.
    """
    data = read_bundle(bundle) if isinstance(bundle, str | Path) else bundle
    session = OtaSession(client, data, restart=restart, progress=progress, cancel=cancel)
    return session.run(commit=commit)
