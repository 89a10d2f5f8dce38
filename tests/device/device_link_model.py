"""A Python model of the device's link endpoint (docs/protocol.md §10): the remote end that the
OTA client and the command functions are tested against until and besides the C++ twin.

It is a test double of the *device*, built on ``core.link`` (frames, message codecs) and
``core.bundle`` (the real verifier): two slots, a durable OTA journal per slot that survives
reboots, in-order 4 KiB chunks, read-back digest + bundle verification before a slot may be
selected, trial boots with a health check, manual rollback with the firmware's refusal rules.
``ModelStream`` connects it to a client as a byte stream, with fault injection on frames.
"""

from __future__ import annotations

import hashlib
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from core.bundle.format import BundleHeader, Manifest
from core.bundle.verify import DeviceContext, verify_bundle
from core.capture.errors import LinkLost
from core.link.frame import (
    DELIMITER,
    FLAG_RESPONSE,
    FLAG_SEQ_RESTART,
    FrameError,
    decode_frame,
    encode_frame,
)
from core.link.messages import (
    BUNDLE_REASONS,
    NO_SLOT,
    OTA_CHUNK_SIZE,
    BootOutcome,
    CalibrationResponse,
    Chip,
    DeviceStatus,
    ErrorCode,
    ErrorMessage,
    Hello,
    Info,
    MessageError,
    MsgType,
    OtaBegin,
    OtaChunk,
    OtadataState,
    OtaError,
    OtaResponse,
    OtaState,
    OtaStatus,
    Response,
    SetCalibrationOffset,
    SlotReason,
    SlotStatus,
    StatusResponse,
    bundle_error,
    ota_error,
    parse_message,
    slot_error,
)

MODEL_MAC = bytes.fromhex("02fb00d0ffee")
STREAM_POLL_S = 0.05


class Refuse(Exception):
    def __init__(self, code: int, text: str = "") -> None:
        super().__init__(text)
        self.code = code
        self.text = text


@dataclass
class Slot:
    bundle: bytes | None = None  # a complete, verified bundle
    state: int = OtadataState.NONE
    calibration: int = 0
    records_left: int = 16
    # the durable OTA journal of a transfer into this slot
    j_size: int = 0
    j_sha: bytes = b""
    j_durable: int = 0
    staged: bytearray = field(default_factory=bytearray)

    def manifest(self) -> Manifest | None:
        if self.bundle is None:
            return None
        h = BundleHeader.decode(self.bundle[:64])
        return Manifest.decode(self.bundle[64 : 64 + h.manifest_size])


@dataclass
class DeviceModel:
    context: DeviceContext | None = None  # None: digest check only (no signature check)
    battery: int = 100
    secure_version: int = 0
    slots: list[Slot] = field(default_factory=lambda: [Slot(), Slot()])
    running: int = 0
    unhealthy: set[bytes] = field(default_factory=set)  # bundle SHA-256s that fail health
    seq: int = 0
    booted: bool = False
    outcome: int = BootOutcome.RUNNING
    outcome_reason: int = 0
    # transient (lost at reboot)
    open_slot: int = -1
    verified: bool = False
    # counters for campaigns
    chunks_written: int = 0
    bytes_written: int = 0
    digest_mismatches: int = 0
    bad_frames: int = 0
    reboots: int = 0
    _pending: bytes = b""

    @classmethod
    def with_bundle(cls, bundle: bytes, **kw: object) -> DeviceModel:
        m = cls(**kw)  # type: ignore[arg-type]
        m.slots[0] = Slot(bundle=bundle, state=OtadataState.VALID)
        epoch = m.slots[0].manifest()
        m.secure_version = epoch.epoch if epoch is not None else 0
        return m

    # ---- state ------------------------------------------------------------------------------
    def verify_reason(self, k: int) -> int:
        s = self.slots[k]
        if s.bundle is None:
            return SlotReason.SLOT_EMPTY
        man = s.manifest()
        assert man is not None
        if man.epoch < self.secure_version:
            return SlotReason.EPOCH_TOO_LOW
        return SlotReason.NONE

    def next_boot(self) -> int:
        for k, s in enumerate(self.slots):
            if s.state == OtadataState.NEW:
                return k
        return self.running

    def status(self) -> DeviceStatus:
        slots = []
        for k, s in enumerate(self.slots):
            man = s.manifest()
            flags = (1 if k == self.running else 0) | (2 if k == self.next_boot() else 0)
            flags |= 4 if s.bundle is not None else 0
            slots.append(
                SlotStatus(
                    slot=k,
                    ota_state=s.state,
                    verify_reason=self.verify_reason(k),
                    flags=flags,
                    epoch=man.epoch if man else 0,
                    app_size=man.components[0].size if man else 0,
                    data_size=(len(s.bundle) - man.components[0].size) if man and s.bundle else 0,
                    calibration_offset=s.calibration,
                    bundle_version=man.bundle_id if man else "",
                    firmware_version=man.firmware_version if man else "",
                    bundle_digest=hashlib.sha256(s.bundle).digest()[:8] if s.bundle else bytes(8),
                )
            )
        run = self.slots[self.running]
        flags = 2 if run.state == OtadataState.PENDING_VERIFY else 0
        ota = OtaState.IDLE
        if self.open_slot >= 0:
            ota = OtaState.VERIFIED if self.verified else OtaState.RECEIVING
        return DeviceStatus(
            running_slot=self.running,
            slots=(slots[0], slots[1]),
            boot_outcome=self.outcome,
            boot_reason=self.outcome_reason,
            battery_percent=self.battery,
            ota_state=ota,
            flags=flags,
            secure_version=self.secure_version,
            firmware_abi=1,
        )

    def info(self) -> Info:
        man = self.slots[self.running].manifest()
        return Info(
            sample_rate=1600.0,
            channel_names=("accX", "accY", "accZ"),
            mac=MODEL_MAC,
            chip=Chip.SIMULATOR,
            firmware_version=man.firmware_version if man else "",
            bundle_version=man.bundle_id if man else "",
            status=self.status(),
        )

    def ota_status(self) -> OtaStatus:
        if self.open_slot < 0:
            return OtaStatus()
        s = self.slots[self.open_slot]
        state = OtaState.VERIFIED if self.verified else OtaState.RECEIVING
        return OtaStatus(state, self.open_slot, s.j_size, s.j_durable, OTA_CHUNK_SIZE, s.j_sha)

    # ---- boot -------------------------------------------------------------------------------
    def reboot(self) -> bytes:
        """Power cycle: transient state is lost; bootloader + trial + health check; boot INFO."""
        self.reboots += 1
        self._pending = b""
        self.open_slot = -1
        self.verified = False
        self.outcome, self.outcome_reason = BootOutcome.RUNNING, 0
        for s in self.slots:
            if s.state == OtadataState.PENDING_VERIFY:
                s.state = OtadataState.ABORTED
        nxt = self.next_boot()
        if self.slots[nxt].state == OtadataState.NEW:
            self.slots[nxt].state = OtadataState.PENDING_VERIFY
        self.running = nxt
        if self.slots[nxt].state == OtadataState.PENDING_VERIFY and not self.health_check():
            self.outcome, self.outcome_reason = (
                BootOutcome.REVERT_REQUESTED,
                SlotReason.SLOT_INVALIDATED,
            )
            self.running = 1 - nxt
        self.seq = 0
        self.booted = False
        return DELIMITER + self.frame(MsgType.INFO, self.info().pack())

    def health_check(self) -> bool:
        s = self.slots[self.running]
        assert s.bundle is not None
        if hashlib.sha256(s.bundle).digest() in self.unhealthy:
            s.state = OtadataState.INVALID
            return False
        s.state = OtadataState.VALID
        man = s.manifest()
        assert man is not None
        self.secure_version = max(self.secure_version, man.epoch)
        self.outcome = BootOutcome.CONFIRMED
        return True

    # ---- link -------------------------------------------------------------------------------
    def frame(self, msg_type: int, payload: bytes, flags: int = 0) -> bytes:
        if not self.booted:
            flags |= FLAG_SEQ_RESTART
            self.booted = True
        out = encode_frame(msg_type, self.seq, payload, flags)
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        return out

    def receive(self, data: bytes) -> bytes:
        buf = self._pending + data
        pieces = buf.split(DELIMITER)
        self._pending = pieces.pop()
        out = b""
        for piece in pieces:
            if not piece:
                continue
            try:
                frame = decode_frame(piece)
                msg = parse_message(frame)
            except (FrameError, MessageError):
                self.bad_frames += 1
                continue
            out += self.handle(frame.type, frame.seq, msg)
        return out

    def answer(self, msg: object) -> bytes:
        return self.frame(msg.type, msg.pack(), FLAG_RESPONSE)  # type: ignore[attr-defined]

    def handle(self, t: int, seq: int, msg: object) -> bytes:
        after_reply: Callable[[], bytes] | None = None
        try:
            if isinstance(msg, Hello):
                return self.answer(self.info())
            if t == MsgType.GET_STATUS:
                return self.answer(StatusResponse(t + 1, seq, self.status()))
            if t == MsgType.CONFIRM:
                run = self.slots[self.running]
                if run.state == OtadataState.PENDING_VERIFY and not self.health_check():
                    self._after = self.reboot
                    raise Refuse(slot_error(SlotReason.SLOT_INVALIDATED), "health check failed")
                return self.answer(StatusResponse(t + 1, seq, self.status()))
            if t == MsgType.ROLLBACK:
                self.check_rollback()
                self.slots[1 - self.running].state = OtadataState.NEW
                reply = self.answer(StatusResponse(t + 1, seq, self.status()))
                return reply + self.reboot()
            if t == MsgType.REBOOT:
                return self.answer(Response(t + 1, seq)) + self.reboot()
            if isinstance(msg, SetCalibrationOffset):
                k = self.running if msg.slot == NO_SLOT else msg.slot
                if k not in (0, 1):
                    raise Refuse(slot_error(SlotReason.NO_SUCH_SLOT))
                s = self.slots[k]
                if s.bundle is None:
                    raise Refuse(slot_error(SlotReason.SLOT_EMPTY))
                if s.records_left == 0:
                    raise Refuse(slot_error(SlotReason.TOO_LARGE))
                s.calibration = msg.offset
                s.records_left -= 1
                return self.answer(CalibrationResponse(seq, msg.offset, s.records_left))
            if isinstance(msg, OtaBegin):
                self.ota_begin(msg)
                return self.answer(OtaResponse(t + 1, seq, self.ota_status()))
            if isinstance(msg, OtaChunk):
                self.ota_chunk(msg)
                return self.answer(OtaResponse(t + 1, seq, self.ota_status()))
            if t == MsgType.OTA_STATUS:
                return self.answer(OtaResponse(t + 1, seq, self.ota_status()))
            if t == MsgType.OTA_END:
                self.ota_end()
                return self.answer(OtaResponse(t + 1, seq, self.ota_status()))
            if t == MsgType.OTA_COMMIT:
                if self.open_slot < 0 or not self.verified:
                    raise Refuse(ota_error(OtaError.WRONG_STATE), "nothing verified to commit")
                self.slots[self.open_slot].state = OtadataState.NEW
                st = self.ota_status()
                reply = self.answer(OtaResponse(t + 1, seq, st))
                return reply + self.reboot()
            if t == MsgType.OTA_ABORT:
                self.open_slot, self.verified = -1, False
                return self.answer(OtaResponse(t + 1, seq, self.ota_status()))
            raise Refuse(ErrorCode.UNKNOWN_TYPE, f"type {t:#x}")
        except Refuse as exc:
            err = ErrorMessage(exc.code, exc.text, seq)
            out = self.frame(err.type, err.pack(), FLAG_RESPONSE)
            after_reply = getattr(self, "_after", None)
            if after_reply is not None:
                del self._after
                out += after_reply()
            return out

    def check_rollback(self) -> None:
        run = self.slots[self.running]
        if run.state == OtadataState.PENDING_VERIFY:
            raise Refuse(slot_error(SlotReason.TRIAL_IN_PROGRESS))
        other = self.slots[1 - self.running]
        if other.state == OtadataState.INVALID:
            raise Refuse(slot_error(SlotReason.SLOT_INVALIDATED))
        reason = self.verify_reason(1 - self.running)
        if reason:
            raise Refuse(slot_error(reason))

    # ---- OTA --------------------------------------------------------------------------------
    def ota_begin(self, msg: OtaBegin) -> None:
        if self.slots[self.running].state == OtadataState.PENDING_VERIFY:
            raise Refuse(slot_error(SlotReason.TRIAL_IN_PROGRESS))
        target = 1 - self.running
        if msg.slot not in (NO_SLOT, target):
            raise Refuse(slot_error(SlotReason.SAME_SLOT))
        h = BundleHeader.decode(msg.prefix[:64])
        if len(msg.prefix) != 64 + h.manifest_size + h.signature_size or h.total_size != msg.size:
            raise Refuse(ota_error(OtaError.BAD_PREFIX))
        man = Manifest.decode(msg.prefix[64 : 64 + h.manifest_size])
        if man.epoch < self.secure_version:
            raise Refuse(bundle_error(BUNDLE_REASONS.index("EPOCH_TOO_LOW")))
        if self.battery < man.min_battery_level:
            raise Refuse(ota_error(OtaError.BATTERY_LOW), f"battery {self.battery} %")
        s = self.slots[target]
        same = s.j_size == msg.size and s.j_sha == msg.sha256
        if not same or msg.restart:
            s.bundle = None  # the journal sector is erased first: the slot reads empty
            s.state = OtadataState.NONE
            s.j_size, s.j_sha, s.j_durable = msg.size, msg.sha256, 0
            s.staged = bytearray(msg.size)
            s.calibration, s.records_left = 0, 16
        self.open_slot, self.verified = target, False

    def ota_chunk(self, c: OtaChunk) -> None:
        if self.open_slot < 0 or self.verified:
            raise Refuse(ota_error(OtaError.WRONG_STATE))
        s = self.slots[self.open_slot]
        if c.size != s.j_size or c.digest_prefix != s.j_sha[:8]:
            raise Refuse(ota_error(OtaError.WRONG_TRANSFER))
        if c.offset % OTA_CHUNK_SIZE or len(c.data) != min(OTA_CHUNK_SIZE, s.j_size - c.offset):
            raise Refuse(ota_error(OtaError.BAD_CHUNK))
        if not c.crc_ok:
            raise Refuse(ota_error(OtaError.CHUNK_CRC))
        if c.offset < s.j_durable:
            return  # a duplicate after a lost acknowledgement: not written again
        if c.offset > s.j_durable:
            raise Refuse(ota_error(OtaError.OUT_OF_ORDER), f"expected offset {s.j_durable}")
        s.staged[c.offset : c.offset + len(c.data)] = c.data
        s.j_durable = c.offset + len(c.data)
        self.chunks_written += 1
        self.bytes_written += len(c.data)

    def ota_end(self) -> None:
        if self.open_slot < 0:
            raise Refuse(ota_error(OtaError.WRONG_STATE))
        s = self.slots[self.open_slot]
        if s.j_durable < s.j_size:
            raise Refuse(ota_error(OtaError.INCOMPLETE))
        data = bytes(s.staged)
        if hashlib.sha256(data).digest() != s.j_sha:
            self.digest_mismatches += 1
            raise Refuse(ota_error(OtaError.DIGEST_MISMATCH))
        if self.context is not None:
            ctx = DeviceContext(
                trusted_keys=self.context.trusted_keys,
                chip=self.context.chip,
                min_epoch=self.secure_version,
            )
            verdict = verify_bundle(data, ctx)
            if not verdict.ok:
                raise Refuse(bundle_error(BUNDLE_REASONS.index(verdict.code)), verdict.reason)
        s.bundle = data
        self.verified = True


@dataclass
class FrameFaults:
    """Per-frame faults of a noisy cable, applied to whole encoded frames (0x00-delimited)."""

    rate: float = 0.0
    seed: int = 0
    bit_errors: int = 0
    drops: int = 0
    duplicates: int = 0
    truncations: int = 0
    frames: int = 0
    _pending: bytes = b""

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def apply(self, data: bytes) -> bytes:
        buf = self._pending + data
        pieces = buf.split(DELIMITER)
        self._pending = pieces.pop()
        out = bytearray()
        rng = self._rng
        for piece in pieces:
            if not piece:
                out += DELIMITER
                continue
            self.frames += 1
            frame = bytearray(piece)
            if rng.random() < self.rate:
                kind = rng.randrange(4)
                if kind == 0:
                    self.bit_errors += 1
                    for _ in range(rng.randint(1, 3)):
                        i = rng.randrange(len(frame))
                        frame[i] ^= 1 << rng.randrange(8)
                        if frame[i] == 0:  # a zero splits the frame: still a corruption
                            frame[i] = 0x01
                elif kind == 1:
                    self.drops += 1
                    continue
                elif kind == 2:
                    self.duplicates += 1
                    out += frame + DELIMITER
                else:
                    self.truncations += 1
                    frame = frame[: rng.randrange(len(frame))]
            out += frame + DELIMITER
        return bytes(out)

    @property
    def injected(self) -> int:
        return self.bit_errors + self.drops + self.duplicates + self.truncations


class ModelStream:
    """A ``ByteStream`` to a ``DeviceModel``: synchronous, with a fake clock and faults.

    ``cut_at_frame`` raises ``LinkLost`` when that many host frames have been written (the
    cable is pulled at a frame boundary); ``reboot_on_cut`` also power-cycles the device.
    """

    def __init__(
        self,
        device: DeviceModel,
        clock: FakeClock,
        *,
        to_device: FrameFaults | None = None,
        to_host: FrameFaults | None = None,
        cut_at_frame: int | None = None,
        reboot_on_cut: bool = False,
    ) -> None:
        self.device = device
        self.clock = clock
        self.name = "model://device"
        self.to_device = to_device
        self.to_host = to_host
        self.cut_at_frame = cut_at_frame
        self.reboot_on_cut = reboot_on_cut
        self.frames_written = 0
        self.closed = False
        self._out = b""

    def write(self, data: bytes) -> None:
        if self.closed:
            raise LinkLost(f"{self.name}: closed")
        n = sum(1 for piece in data.split(DELIMITER)[:-1] if piece)
        if self.cut_at_frame is not None and self.frames_written + n > self.cut_at_frame:
            self.closed = True
            if self.reboot_on_cut:
                self.device.reboot()
            raise LinkLost(f"{self.name}: cable pulled")
        self.frames_written += n
        if self.to_device is not None:
            data = self.to_device.apply(data)
        reply = self.device.receive(data)
        if self.to_host is not None:
            reply = self.to_host.apply(reply)
        self._out += reply

    def read(self) -> bytes:
        if self.closed:
            raise LinkLost(f"{self.name}: closed")
        out, self._out = self._out, b""
        if not out:
            self.clock.advance(STREAM_POLL_S)
        return out

    def close(self) -> None:
        self.closed = True


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def chunk_crc(data: bytes) -> int:
    return zlib.crc32(data)


class TcpDevice:
    """Serves a ``DeviceModel`` on ``socket://127.0.0.1:PORT`` (one connection at a time), so
    the GUI and the CLI reach it by a port name exactly as they reach a board or the twin."""

    def __init__(self, device: DeviceModel) -> None:
        import socket
        import threading

        self.device = device
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(1)
        self._listener.settimeout(0.05)
        self.port = f"socket://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name="device-model", daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(0.05)
                while not self._stop.is_set():
                    try:
                        data = conn.recv(65536)
                    except TimeoutError:
                        continue
                    except OSError:
                        break
                    if not data:
                        break
                    with self._lock:
                        reply = self.device.receive(data)
                    if reply:
                        try:
                            conn.sendall(reply)
                        except OSError:
                            break

    def __enter__(self) -> TcpDevice:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._listener.close()
