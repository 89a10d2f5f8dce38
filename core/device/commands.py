"""Device commands over a connected ``DeviceClient`` (docs/protocol.md §4, §10.2–10.3).

Plain functions: ``identify`` (HELLO → INFO + status), ``get_status``, ``rollback``,
``confirm``, ``set_calibration_offset``, ``reboot``. Requests that change the device
(rollback, reboot) are never retried blindly: when their answer is lost the device is asked
what happened instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from core.device.client import (
    DeviceClient,
    DeviceDisconnected,
    DeviceError,
    DeviceRefused,
    DeviceTimeout,
)
from core.link.frame import FLAG_SEQ_RESTART, Frame
from core.link.messages import (
    NO_SLOT,
    BootOutcome,
    CalibrationResponse,
    Chip,
    DeviceStatus,
    ErrorCode,
    Hello,
    Info,
    MessageError,
    MsgType,
    OtadataState,
    SetCalibrationOffset,
    SlotReason,
    SlotStatus,
    StatusResponse,
    parse_message,
)

BOOT_TIMEOUT_S = 15.0
CHIP_NAMES = {
    Chip.UNKNOWN: "unknown",
    Chip.ESP32_S3: "ESP32-S3",
    Chip.HOST_TWIN: "ESP32-S3 twin",
    Chip.SIMULATOR: "Python simulator",
}
REASON_TEXT = {
    SlotReason.NONE: "verifies",
    SlotReason.TRIAL_IN_PROGRESS: "the running bundle is still on trial; confirm it first",
    SlotReason.NO_SUCH_SLOT: "no such slot",
    SlotReason.SLOT_EMPTY: "the slot holds no bundle",
    SlotReason.BAD_MANIFEST: "the slot's manifest is damaged",
    SlotReason.APP_IMAGE_INVALID: "the app image is damaged",
    SlotReason.APP_HASH_MISMATCH: "the app image does not match its signed hash",
    SlotReason.DATA_HASH_MISMATCH: "the model data does not match its signed hash",
    SlotReason.WRONG_TARGET: "built for another chip or board",
    SlotReason.EPOCH_TOO_LOW: "older than the device's anti-rollback epoch",
    SlotReason.SLOT_INVALIDATED: "the bundle failed its health check and was marked invalid",
    SlotReason.TOO_LARGE: "too large for the slot",
    SlotReason.NOT_STAGING: "no update is being staged",
    SlotReason.OUT_OF_ORDER: "data arrived out of order",
    SlotReason.INCOMPLETE: "the transfer is incomplete",
    SlotReason.FLASH_ERROR: "a flash operation failed",
    SlotReason.SAME_SLOT: "that is the running slot",
}


def reason_text(reason: int) -> str:
    """A sentence for a ``node::Reason`` number."""
    try:
        return REASON_TEXT[SlotReason(reason)]
    except ValueError:
        return f"reason {reason}"


def _state_name(state: int) -> str:
    try:
        return "empty" if state == OtadataState.NONE else OtadataState(state).name
    except ValueError:
        return f"0x{state:02x}"


@dataclass(frozen=True)
class SlotInfo:
    """One bundle slot, for people: what it holds and whether it could boot."""

    slot: int
    running: bool
    next_boot: bool
    has_bundle: bool
    state: str  # otadata state: VALID, PENDING_VERIFY, INVALID, ABORTED, NEW, empty
    verifies: bool
    problem: str  # "" when it verifies
    bundle_version: str
    firmware_version: str
    epoch: int
    calibration_offset: int
    app_size: int
    data_size: int
    bundle_digest: str

    @classmethod
    def from_status(cls, s: SlotStatus) -> SlotInfo:
        return cls(
            slot=s.slot,
            running=s.running,
            next_boot=s.next_boot,
            has_bundle=s.has_bundle,
            state=_state_name(s.ota_state),
            verifies=s.verifies,
            problem="" if s.verifies else reason_text(s.verify_reason),
            bundle_version=s.bundle_version,
            firmware_version=s.firmware_version,
            epoch=s.epoch,
            calibration_offset=s.calibration_offset,
            app_size=s.app_size,
            data_size=s.data_size,
            bundle_digest=bytes(s.bundle_digest).hex() if any(s.bundle_digest) else "",
        )


@dataclass(frozen=True)
class DeviceInfo:
    """What a device is and runs: identity from INFO, slots from the device status."""

    port: str
    chip: str
    device_id: str
    firmware_version: str
    bundle_version: str
    protocol_version: int
    sample_rate: float
    channels: tuple[str, ...]
    running_slot: int | None
    slots: tuple[SlotInfo, ...]
    battery_percent: int | None = None
    secure_version: int | None = None
    on_trial: bool = False
    safe_mode: bool = False
    boot_outcome: str = ""
    boot_reason: str = ""
    status: DeviceStatus | None = None

    @classmethod
    def from_info(cls, port: str, info: Info, status: DeviceStatus | None) -> DeviceInfo:
        try:
            chip = CHIP_NAMES[Chip(info.chip)]
        except ValueError:
            chip = f"chip {info.chip}"
        if status is None:
            return cls(
                port, chip, info.device_id, info.firmware_version, info.bundle_version,
                info.protocol_version, info.sample_rate, info.channel_names, None, (),
            )  # fmt: skip
        try:
            outcome = BootOutcome(status.boot_outcome).name
        except ValueError:
            outcome = str(status.boot_outcome)
        return cls(
            port=port,
            chip=chip,
            device_id=info.device_id,
            firmware_version=info.firmware_version,
            bundle_version=info.bundle_version,
            protocol_version=info.protocol_version,
            sample_rate=info.sample_rate,
            channels=info.channel_names,
            running_slot=None if status.running_slot == NO_SLOT else status.running_slot,
            slots=tuple(SlotInfo.from_status(s) for s in status.slots),
            battery_percent=status.battery_percent,
            secure_version=status.secure_version,
            on_trial=status.on_trial,
            safe_mode=status.safe_mode,
            boot_outcome=outcome,
            boot_reason="" if status.boot_reason == 0 else reason_text(status.boot_reason),
            status=status,
        )

    def with_status(self, status: DeviceStatus) -> DeviceInfo:
        """The same device with a fresher status (after GET_STATUS or CONFIRM)."""
        slots = tuple(SlotInfo.from_status(s) for s in status.slots)
        fresh = DeviceInfo.from_info(self.port, _INFO_PLACEHOLDER, status)
        return dataclasses.replace(
            fresh,
            chip=self.chip,
            device_id=self.device_id,
            firmware_version=self.firmware_version,
            bundle_version=self.bundle_version,
            protocol_version=self.protocol_version,
            sample_rate=self.sample_rate,
            channels=self.channels,
            slots=slots,
        )

    def lines(self) -> list[str]:
        """A readable summary (the CLI prints it, the GUI log shows it)."""
        out = [
            f"port        {self.port}",
            f"chip        {self.chip}",
            f"device id   {self.device_id}",
            f"firmware    {self.firmware_version or '-'}",
            f"bundle      {self.bundle_version or '-'}",
        ]
        if self.battery_percent is not None:
            out.append(f"battery     {self.battery_percent} %")
        if self.secure_version is not None:
            out.append(f"epoch       {self.secure_version} (anti-rollback counter)")
        if self.safe_mode:
            out.append("mode        SAFE MODE: no bundle verifies (link only)")
        elif self.on_trial:
            out.append("mode        running bundle on trial (not confirmed yet)")
        if self.boot_outcome:
            extra = f" ({self.boot_reason})" if self.boot_reason else ""
            out.append(f"last boot   {self.boot_outcome}{extra}")
        for s in self.slots:
            marks = "running" if s.running else ("next boot" if s.next_boot else "")
            what = s.bundle_version or "(empty)"
            check = "verifies" if s.verifies else f"does not verify: {s.problem}"
            out.append(
                f"slot {s.slot}      {what}  fw {s.firmware_version or '-'}  epoch {s.epoch}  "
                f"{s.state}  {check}  calibration {s.calibration_offset}"
                + (f"  [{marks}]" if marks else "")
            )
        return out


_INFO_PLACEHOLDER = Info(1.0, ("ch0",))


def _parse_info(frame: Frame) -> Info | None:
    if frame.type != MsgType.INFO:
        return None
    try:
        msg = parse_message(frame)
    except MessageError:
        return None
    return msg if isinstance(msg, Info) else None


def identify(client: DeviceClient, cancel: Callable[[], bool] | None = None) -> DeviceInfo:
    """HELLO → INFO; the device status comes with INFO (extension) or from GET_STATUS."""
    frame = client.request(
        MsgType.HELLO,
        Hello().pack(),
        what="hello",
        response_type=MsgType.INFO,
        echo_seq=False,
        cancel=cancel,
    )
    info = _parse_info(frame)
    if info is None:
        raise DeviceError(f"{client.name}: the device answered HELLO with a malformed INFO")
    status = info.status
    if status is None:
        try:
            status = get_status(client, cancel)
        except DeviceRefused as exc:
            if exc.code != ErrorCode.UNKNOWN_TYPE:
                raise
    return DeviceInfo.from_info(client.name, info, status)


def get_status(client: DeviceClient, cancel: Callable[[], bool] | None = None) -> DeviceStatus:
    msg = client.call(MsgType.GET_STATUS, what="get status", cancel=cancel)
    assert isinstance(msg, StatusResponse)
    return msg.status


def confirm(client: DeviceClient) -> DeviceStatus:
    """Run the health check on a bundle on trial and confirm it (a no-op when confirmed)."""
    msg = client.call(MsgType.CONFIRM, what="confirm", retries=0, timeout=BOOT_TIMEOUT_S)
    assert isinstance(msg, StatusResponse)
    return msg.status


def set_calibration_offset(
    client: DeviceClient, offset: int, slot: int | None = None
) -> tuple[int, int]:
    """Persist ``offset`` (feature counts) for the bundle in ``slot`` (default: the running one).

    Returns (offset now stored, changes left in the slot's calibration log).
    """
    if not -32768 <= offset <= 32767:
        raise DeviceError(f"calibration offset {offset} is outside -32768 … 32767 counts")
    req = SetCalibrationOffset(offset, NO_SLOT if slot is None else slot)
    msg = client.call(req.type, req.pack(), what="set calibration offset")
    assert isinstance(msg, CalibrationResponse)
    return msg.offset, msg.records_left


def wait_for_boot(
    client: DeviceClient,
    timeout: float = BOOT_TIMEOUT_S,
    cancel: Callable[[], bool] | None = None,
) -> DeviceInfo:
    """Wait for the INFO a device sends after it booted; reconnect if the port went away."""

    def booted(f: Frame) -> bool:
        return f.type == MsgType.INFO and bool(f.flags & FLAG_SEQ_RESTART)

    try:
        frame = client.wait_for(booted, timeout, cancel)
    except DeviceDisconnected:
        client.reconnect(timeout, cancel)
        return identify(client, cancel)
    if frame is None:
        raise DeviceTimeout(
            f"{client.name}: the device did not come back within {timeout:.0f} s after the "
            "reboot; power-cycle it and run `fieldbench device info`"
        )
    info = _parse_info(frame)
    if info is None or info.status is None:
        return identify(client, cancel)
    return DeviceInfo.from_info(client.name, info, info.status)


@dataclass(frozen=True)
class RollbackResult:
    before: DeviceInfo
    after: DeviceInfo

    @property
    def ok(self) -> bool:
        """The device now runs the other slot's bundle, confirmed."""
        return (
            self.after.running_slot is not None
            and self.after.running_slot != self.before.running_slot
            and not self.after.on_trial
        )

    def message(self) -> str:
        a = self.after
        if self.ok:
            return (
                f"rolled back: slot {a.running_slot} runs {a.bundle_version or '(unnamed)'} "
                f"and passed its health check"
            )
        reason = f" ({a.boot_reason})" if a.boot_reason else ""
        return (
            f"rollback did not take: slot {a.running_slot} runs "
            f"{a.bundle_version or '(unnamed)'}; last boot {a.boot_outcome}{reason}"
        )


def rollback_refusal(info: DeviceInfo) -> str | None:
    """Why the device would refuse a manual rollback, judged from its status (None: allowed).

    The device decides; this lets a GUI explain before the user clicks.
    """
    if info.running_slot is None:
        return "no bundle is running (safe mode)"
    if info.on_trial:
        return reason_text(SlotReason.TRIAL_IN_PROGRESS)
    others = [s for s in info.slots if s.slot != info.running_slot]
    if not others:
        return reason_text(SlotReason.NO_SUCH_SLOT)
    other = others[0]
    if other.state == "INVALID":
        return reason_text(SlotReason.SLOT_INVALIDATED)
    if not other.verifies:
        return other.problem
    if info.secure_version is not None and other.epoch < info.secure_version:
        return reason_text(SlotReason.EPOCH_TOO_LOW)
    return None


def rollback(
    client: DeviceClient,
    before: DeviceInfo | None = None,
    cancel: Callable[[], bool] | None = None,
) -> RollbackResult:
    """Manual rollback to the other slot; returns the verified state after the reboot.

    A refusal raises ``DeviceRefused`` whose ``reason`` names why (nothing was written).
    """
    before = before or identify(client, cancel)
    # The answer may be lost while the device already reboots: its post-boot INFO tells.
    with contextlib.suppress(DeviceTimeout, DeviceDisconnected):
        client.call(MsgType.ROLLBACK, what="rollback", retries=0, cancel=cancel)
    after = wait_for_boot(client, cancel=cancel)
    return RollbackResult(before, after)


def reboot(client: DeviceClient, cancel: Callable[[], bool] | None = None) -> DeviceInfo:
    with contextlib.suppress(DeviceTimeout, DeviceDisconnected):
        client.call(MsgType.REBOOT, what="reboot", retries=0, cancel=cancel)
    return wait_for_boot(client, cancel=cancel)


__all__ = [
    "DeviceInfo",
    "RollbackResult",
    "SlotInfo",
    "confirm",
    "get_status",
    "identify",
    "reboot",
    "rollback",
    "rollback_refusal",
    "set_calibration_offset",
    "wait_for_boot",
]
