"""The dataset store: int16 ``.npy`` payloads beside an SQLite catalog, in ``<workspace>/dataset``.

Layout::

    dataset/catalog.sqlite        recordings, tag strata, segments, sessions, splits (WAL)
    dataset/recordings/000042.npy one int16 (samples, channels) payload per recording

Privacy by construction: no wall-clock time is stored anywhere — recordings carry a capture
session ordinal, tags and a salted hash of the device id (the salt is per workspace).

Crash safety: a recording's row is committed (state ``recording``) before its payload is
created, and the writer holds an advisory lock on the payload. Opening the dataset recovers every
``recording`` row whose lock is free (its writer died): the payload's header is repaired, the
sample count is taken from the file and the row is marked ``interrupted``. Imports write
temporary payloads inside one transaction and rename them after the commit, so a failed import
leaves neither rows nor files.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
import os
import secrets
import sqlite3
import threading
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from core.dataset.npyfile import GrowingNpy, repair
from core.dataset.quality import CaptureQuality
from core.dataset.schema import DatasetConfig
from core.errors import ConfigError, FieldbenchError, WorkspaceError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, recovery trusts the state
    fcntl = None  # type: ignore[assignment]

DATASET_DIR = "dataset"
CATALOG_NAME = "catalog.sqlite"
PAYLOAD_DIR = "recordings"
SCHEMA_VERSION = 1
STATES = ("recording", "complete", "interrupted")
CHUNK_BYTES = 1 << 16  # the writer flushes every 64 KiB: bounded memory, little loss on a kill

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (ordinal INTEGER PRIMARY KEY AUTOINCREMENT);
CREATE TABLE IF NOT EXISTS strata (
    id INTEGER PRIMARY KEY,
    label TEXT NOT NULL,             -- '' when unlabelled or labelled by segments
    tags TEXT NOT NULL,              -- canonical JSON object, keys sorted
    UNIQUE (label, tags)
);
CREATE TABLE IF NOT EXISTS recordings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stratum INTEGER NOT NULL REFERENCES strata(id),
    session INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('recording', 'complete', 'interrupted')),
    source TEXT NOT NULL,
    device TEXT,                     -- salted hash, never the raw id
    sample_rate REAL NOT NULL CHECK (sample_rate > 0),
    channels INTEGER NOT NULL CHECK (channels > 0),
    channel_names TEXT NOT NULL,     -- JSON list
    units TEXT NOT NULL,
    fixed_point_scale REAL NOT NULL CHECK (fixed_point_scale > 0),
    samples INTEGER NOT NULL DEFAULT 0,
    duration REAL NOT NULL DEFAULT 0,
    payload TEXT NOT NULL UNIQUE,    -- relative to dataset/
    quality TEXT NOT NULL DEFAULT '{}',
    note TEXT NOT NULL DEFAULT ''
);
-- covering: filter and coverage read only the index
CREATE INDEX IF NOT EXISTS recordings_stratum ON recordings (stratum, state, duration);
CREATE INDEX IF NOT EXISTS recordings_session ON recordings (session);
CREATE TABLE IF NOT EXISTS segments (
    recording INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    start INTEGER NOT NULL,          -- sample index, inclusive
    stop INTEGER NOT NULL,           -- sample index, exclusive
    label TEXT NOT NULL,
    CHECK (stop > start AND start >= 0)
);
CREATE INDEX IF NOT EXISTS segments_recording ON segments (recording);
CREATE TABLE IF NOT EXISTS splits (
    name TEXT PRIMARY KEY,
    params TEXT NOT NULL             -- JSON: seed, fractions, stratification, mix
);
CREATE TABLE IF NOT EXISTS split_members (
    split TEXT NOT NULL REFERENCES splits(name) ON DELETE CASCADE,
    recording INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    part TEXT NOT NULL CHECK (part IN ('train', 'val', 'test')),
    PRIMARY KEY (split, recording)
);
"""


class _Keep:
    """Sentinel: leave a field unchanged."""


KEEP = _Keep()


class DatasetError(FieldbenchError):
    """The dataset catalog or a payload cannot be read or changed."""


@dataclass(frozen=True)
class Segment:
    start: int  # sample index, inclusive
    stop: int  # exclusive
    label: str


@dataclass(frozen=True)
class RecordingInfo:
    """One catalog row, as the GUI table and the CLI show it."""

    id: int
    label: str | None
    tags: dict[str, str]
    session: int
    state: str
    source: str
    device_hash: str | None
    sample_rate: float
    channels: int
    channel_names: tuple[str, ...]
    units: str
    fixed_point_scale: float
    samples: int
    duration_s: float
    payload: Path
    quality: CaptureQuality
    note: str = ""
    segments: tuple[Segment, ...] = field(default_factory=tuple)


def canonical_tags(tags: Mapping[str, str]) -> str:
    return json.dumps(dict(tags), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def load_dataset_config(workspace_root: Path) -> DatasetConfig:
    """The ``[dataset]`` table of ``fieldbench.toml`` (built-in defaults when absent)."""
    cfg = workspace_root / "fieldbench.toml"
    if not cfg.is_file():
        return DatasetConfig()
    try:
        raw = tomllib.loads(cfg.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise WorkspaceError(f"{cfg}: not valid TOML ({exc})") from None
    try:
        return DatasetConfig.from_mapping(raw.get("dataset", {}))
    except ConfigError as exc:
        raise WorkspaceError(f"{cfg}: {exc}") from None


class Dataset:
    """The recordings of one workspace. Open with ``Dataset.open(root)``; close or use ``with``.

    Thread-safe: one connection guarded by a lock, so a capture worker may write while the GUI
    thread queries.
    """

    def __init__(self, root: Path, conn: sqlite3.Connection, config: DatasetConfig) -> None:
        self.root = root
        self.dir = root / DATASET_DIR
        self.config = config
        self._conn = conn
        self._lock = threading.RLock()
        self._depth = 0
        self._pending: list[tuple[Path, Path]] = []  # (temporary, final) payloads of the tx
        self._import_lock: int | bool | None = None  # held while temporary payloads exist
        self._strata: dict[int, tuple[str, str]] = {}
        self._strata_ids: dict[tuple[str, str], int] = {}
        self._strata_tags: dict[int, dict[str, str]] = {}
        self._salt = b""
        self.recovered: list[int] = []

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, workspace_root: Path, config: DatasetConfig | None = None) -> Dataset:
        """Open (creating if missing) the catalog of ``workspace_root`` and recover dead writers.

        ``config`` overrides the ``[dataset]`` table read from the workspace's fieldbench.toml.
        """
        root = Path(workspace_root)
        cfg = config or load_dataset_config(root)
        folder = root / DATASET_DIR
        try:
            (folder / PAYLOAD_DIR).mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                folder / CATALOG_NAME, isolation_level=None, check_same_thread=False, timeout=10.0
            )
        except (OSError, sqlite3.Error) as exc:
            raise WorkspaceError(f"{folder}: cannot open the dataset catalog ({exc})") from None
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            ds = cls(root, conn, cfg)
            ds._init_schema()
            ds._recover()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise WorkspaceError(
                f"{folder / CATALOG_NAME}: not a readable catalog ({exc}); "
                "restore it from a backup or move it away to start an empty one"
            ) from None
        return ds

    def _init_schema(self) -> None:
        with self.transaction() as c:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    c.execute(statement)
            row = c.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if row is None:
                c.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                c.execute("INSERT INTO meta VALUES ('salt', ?)", (secrets.token_hex(16),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise WorkspaceError(
                    f"{self.dir / CATALOG_NAME}: catalog format {row[0]} is newer than this "
                    f"Fieldbench reads ({SCHEMA_VERSION}); update Fieldbench"
                )
            salt = c.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()[0]
        self._salt = bytes.fromhex(salt)
        self._load_strata()

    def _load_strata(self) -> None:
        with self._lock:
            rows = self._conn.execute("SELECT id, label, tags FROM strata").fetchall()
        self._strata = {i: (label, tags) for i, label, tags in rows}
        self._strata_ids = {v: k for k, v in self._strata.items()}
        self._strata_tags = {}

    def stratum_tags(self, stratum: int) -> dict[str, str]:
        """The tags of a stratum (parsed once; treat as read-only)."""
        tags = self._strata_tags.get(stratum)
        if tags is None:
            tags = self._strata_tags[stratum] = json.loads(self._strata[stratum][1])
        return tags

    def _recover(self) -> None:
        """Finish rows whose writer died; drop temporary payloads of imports that never ended."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, channels, payload, sample_rate FROM recordings"
                " WHERE state = 'recording'"
            ).fetchall()
        for rid, channels, payload, rate in rows:
            path = self.dir / payload
            lock = _try_lock(path)
            if lock is False:
                continue  # a live writer holds it
            try:
                samples = repair(path, channels) if path.exists() else 0
            finally:
                if isinstance(lock, int):
                    os.close(lock)
            with self.transaction() as c:
                if samples == 0:
                    c.execute("DELETE FROM recordings WHERE id = ?", (rid,))
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                else:
                    c.execute(
                        "UPDATE recordings SET state = 'interrupted', samples = ?, duration = ?,"
                        " note = 'recovered: the capture process stopped before finishing'"
                        " WHERE id = ?",
                        (samples, samples / rate, rid),
                    )
                    self.recovered.append(rid)
        lock = _try_lock(self.dir / ".import.lock", create=True)
        if lock is not False:
            try:
                for tmp in (self.dir / PAYLOAD_DIR).glob(".*.npy.tmp"):
                    tmp.unlink()
            finally:
                if isinstance(lock, int):
                    os.close(lock)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One SQLite transaction (re-entrant); payloads added inside appear only on commit."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
                self._pending = []
                self._import_lock = None
            self._depth += 1
            try:
                yield self._conn
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                    for tmp, _ in self._pending:
                        with contextlib.suppress(FileNotFoundError):
                            tmp.unlink()
                    self._pending = []
                    self._load_strata()
                    self._release_import_lock()
                raise
            self._depth -= 1
            if outer:
                try:
                    self._conn.execute("COMMIT")
                    for tmp, final in self._pending:
                        os.replace(tmp, final)
                finally:
                    self._pending = []
                    self._release_import_lock()

    def _release_import_lock(self) -> None:
        if isinstance(self._import_lock, int):
            os.close(self._import_lock)
        self._import_lock = None

    # -- identities ---------------------------------------------------------------------------

    def device_hash(self, device_id: str) -> str:
        """The salted hash stored in place of a device id (same id → same hash per workspace)."""
        return hmac.new(self._salt, device_id.encode("utf-8"), hashlib.sha256).hexdigest()[:20]

    def new_session(self) -> int:
        """The next capture-session ordinal (1, 2, ...): recordings of one sitting share it."""
        with self.transaction() as c:
            cur = c.execute("INSERT INTO sessions DEFAULT VALUES")
            return int(cur.lastrowid or 0)

    def _stratum(self, c: sqlite3.Connection, label: str | None, tags: Mapping[str, str]) -> int:
        key = (label or "", canonical_tags(tags))
        sid = self._strata_ids.get(key)
        if sid is None:
            cur = c.execute("INSERT INTO strata (label, tags) VALUES (?, ?)", key)
            sid = int(cur.lastrowid or 0)
            self._strata[sid] = key
            self._strata_ids[key] = sid
        return sid

    def _check_meta(
        self,
        sample_rate: float,
        channel_names: Sequence[str],
        units: str,
        fixed_point_scale: float,
        session: int,
    ) -> None:
        if not np.isfinite(sample_rate) or sample_rate <= 0:
            raise DatasetError(f"sample rate {sample_rate!r}: must be a positive number of Hz")
        if not channel_names:
            raise DatasetError("a recording needs at least one channel name")
        if not np.isfinite(fixed_point_scale) or fixed_point_scale <= 0:
            raise DatasetError(f"fixedPointScale {fixed_point_scale!r}: must be positive")
        if not isinstance(session, int) or session < 1:
            raise DatasetError(f"session {session!r}: use an ordinal from Dataset.new_session()")
        if not units:
            raise DatasetError("units: name the physical unit of the samples (e.g. 'g')")

    # -- writing ------------------------------------------------------------------------------

    def start_recording(
        self,
        *,
        label: str | None,
        tags: Mapping[str, str],
        sample_rate: float,
        channel_names: Sequence[str],
        units: str,
        fixed_point_scale: float,
        session: int,
        device_id: str | None = None,
        source: str = "capture",
    ) -> RecordingWriter:
        """Begin a recording that streams to disk; tags are checked against the schema first."""
        label = self.config.validate_label(label)
        clean = self.config.validate_tags(tags)
        self._check_meta(sample_rate, channel_names, units, fixed_point_scale, session)
        device = self.device_hash(device_id) if device_id else None
        with self.transaction() as c:
            sid = self._stratum(c, label, clean)
            cur = c.execute(
                "INSERT INTO recordings (stratum, session, state, source, device, sample_rate,"
                " channels, channel_names, units, fixed_point_scale, payload)"
                " VALUES (?, ?, 'recording', ?, ?, ?, ?, ?, ?, ?, '')",
                (
                    sid,
                    session,
                    source,
                    device,
                    float(sample_rate),
                    len(channel_names),
                    json.dumps(list(channel_names)),
                    units,
                    float(fixed_point_scale),
                ),
            )
            rid = int(cur.lastrowid or 0)
            rel = f"{PAYLOAD_DIR}/{rid:06d}.npy"
            c.execute("UPDATE recordings SET payload = ? WHERE id = ?", (rel, rid))
        path = self.dir / rel
        try:
            npy = GrowingNpy(path, len(channel_names))
        except OSError as exc:
            with self.transaction() as c:
                c.execute("DELETE FROM recordings WHERE id = ?", (rid,))
            raise DatasetError(f"{path}: cannot create the payload ({exc.strerror})") from None
        _lock_fd(npy.fd)
        return RecordingWriter(self, rid, path, npy, float(sample_rate))

    def add_recording(
        self,
        samples: npt.NDArray[np.int16],
        *,
        label: str | None,
        tags: Mapping[str, str],
        sample_rate: float,
        channel_names: Sequence[str],
        units: str,
        fixed_point_scale: float,
        session: int,
        device_id: str | None = None,
        source: str = "import",
        quality: CaptureQuality | None = None,
        segments: Sequence[Segment] = (),
        note: str = "",
    ) -> int:
        """Add a whole recording (import, sample data) inside a transaction; returns its id."""
        x = np.asarray(samples)
        if x.dtype != np.int16 or x.ndim != 2:
            raise DatasetError(
                f"payload must be int16 (samples, channels), got {x.dtype} {x.shape}"
            )
        if x.shape[0] == 0:
            raise DatasetError("a recording needs at least one sample")
        if x.shape[1] != len(channel_names):
            raise DatasetError(
                f"{x.shape[1]} channel(s) of data but {len(channel_names)} channel name(s)"
            )
        label = self.config.validate_label(label)
        clean = self.config.validate_tags(tags)
        self._check_meta(sample_rate, channel_names, units, fixed_point_scale, session)
        segs = _check_segments(self, segments, x.shape[0])
        device = self.device_hash(device_id) if device_id else None
        q = quality or CaptureQuality()
        with self.transaction() as c:
            sid = self._stratum(c, label, clean)
            cur = c.execute(
                "INSERT INTO recordings (stratum, session, state, source, device, sample_rate,"
                " channels, channel_names, units, fixed_point_scale, samples, duration, payload,"
                " quality, note) VALUES (?, ?, 'complete', ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?)",
                (
                    sid,
                    session,
                    source,
                    device,
                    float(sample_rate),
                    x.shape[1],
                    json.dumps(list(channel_names)),
                    units,
                    float(fixed_point_scale),
                    x.shape[0],
                    x.shape[0] / float(sample_rate),
                    json.dumps(q.to_mapping()),
                    note,
                ),
            )
            rid = int(cur.lastrowid or 0)
            rel = f"{PAYLOAD_DIR}/{rid:06d}.npy"
            c.execute("UPDATE recordings SET payload = ? WHERE id = ?", (rel, rid))
            c.executemany(
                "INSERT INTO segments VALUES (?, ?, ?, ?)",
                [(rid, s.start, s.stop, s.label) for s in segs],
            )
            final = self.dir / rel
            tmp = final.with_name(f".{final.name}.tmp")
            if self._import_lock is None:
                self._import_lock = _try_lock(self.dir / ".import.lock", create=True, wait=True)
            self._pending.append((tmp, final))
            try:
                with open(tmp, "xb") as handle:
                    np.save(handle, np.ascontiguousarray(x, dtype="<i2"), allow_pickle=False)
            except OSError as exc:
                raise DatasetError(f"{final}: cannot write the payload ({exc.strerror})") from None
        return rid

    # -- reading ------------------------------------------------------------------------------

    def _info(self, row: Sequence[Any], segments: tuple[Segment, ...] = ()) -> RecordingInfo:
        (rid, stratum, session, state, source, device, rate, channels, names, units, scale,
         samples, duration, payload, quality, note) = row  # fmt: skip
        label, tags = self._strata[stratum]
        return RecordingInfo(
            id=rid,
            label=label or None,
            tags=json.loads(tags),
            session=session,
            state=state,
            source=source,
            device_hash=device,
            sample_rate=rate,
            channels=channels,
            channel_names=tuple(json.loads(names)),
            units=units,
            fixed_point_scale=scale,
            samples=samples,
            duration_s=duration,
            payload=self.dir / payload,
            quality=CaptureQuality.from_mapping(json.loads(quality)),
            note=note,
            segments=segments,
        )

    _COLUMNS = (
        "id, stratum, session, state, source, device, sample_rate, channels, channel_names,"
        " units, fixed_point_scale, samples, duration, payload, quality, note"
    )

    def get(self, recording_id: int) -> RecordingInfo:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {self._COLUMNS} FROM recordings WHERE id = ?", (recording_id,)
            ).fetchone()
            if row is None:
                raise DatasetError(f"recording {recording_id} is not in the catalog")
            segs = self._conn.execute(
                "SELECT start, stop, label FROM segments WHERE recording = ? ORDER BY start",
                (recording_id,),
            ).fetchall()
        return self._info(row, tuple(Segment(*s) for s in segs))

    def matching_strata(
        self,
        label: str | Sequence[str] | None = None,
        tags: Mapping[str, str | Sequence[str]] | None = None,
    ) -> list[int]:
        """Ids of the strata (label × tag combinations) a filter selects."""
        labels = None if label is None else {label} if isinstance(label, str) else set(label)
        wanted = {k: ({v} if isinstance(v, str) else set(v)) for k, v in (tags or {}).items()}
        for key in wanted:
            self.config.tag(key)  # unknown tag names are an error, not an empty result
        out = []
        for sid, (lab, _) in self._strata.items():
            if labels is not None and (lab or None) not in labels and lab not in labels:
                continue
            if wanted:
                have = self.stratum_tags(sid)
                if any(have.get(k) not in vals for k, vals in wanted.items()):
                    continue
            out.append(sid)
        return out

    def filter_ids(
        self,
        label: str | Sequence[str] | None = None,
        tags: Mapping[str, str | Sequence[str]] | None = None,
        states: Sequence[str] = ("complete", "interrupted"),
    ) -> npt.NDArray[np.int64]:
        """Ids of recordings with ``label`` (one or any of several) and every tag given.

        A tag may be given a list of values (any of them matches). Fast over 100 000 rows:
        the filter runs over the small strata table, then one indexed query.
        """
        strata = self.matching_strata(label, tags)
        if not strata:
            return np.zeros(0, dtype=np.int64)
        marks = ",".join("?" * len(states))
        with self._lock:
            if len(strata) == len(self._strata):
                sql = f"SELECT id FROM recordings WHERE state IN ({marks}) ORDER BY id"
                rows = self._conn.execute(sql, tuple(states)).fetchall()
            else:
                smarks = ",".join("?" * len(strata))
                sql = (
                    f"SELECT id FROM recordings WHERE stratum IN ({smarks})"
                    f" AND state IN ({marks}) ORDER BY id"
                )
                rows = self._conn.execute(sql, (*strata, *states)).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def recordings(
        self,
        label: str | Sequence[str] | None = None,
        tags: Mapping[str, str | Sequence[str]] | None = None,
        states: Sequence[str] = ("complete", "interrupted"),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[RecordingInfo]:
        """Catalog rows matching a filter, by id (``limit``/``offset`` page a large table)."""
        ids = self.filter_ids(label, tags, states)
        end = None if limit is None else offset + limit
        ids = ids[offset:end]
        if ids.size == 0:
            return []
        out: list[RecordingInfo] = []
        with self._lock:
            for start in range(0, ids.size, 500):
                part = [int(i) for i in ids[start : start + 500]]
                marks = ",".join("?" * len(part))
                rows = self._conn.execute(
                    f"SELECT {self._COLUMNS} FROM recordings WHERE id IN ({marks}) ORDER BY id",
                    part,
                ).fetchall()
                segs: dict[int, list[Segment]] = {}
                for rid, a, b, lab in self._conn.execute(
                    f"SELECT recording, start, stop, label FROM segments WHERE recording IN"
                    f" ({marks}) ORDER BY recording, start",
                    part,
                ):
                    segs.setdefault(rid, []).append(Segment(a, b, lab))
                out += [self._info(r, tuple(segs.get(r[0], ()))) for r in rows]
        return out

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM recordings").fetchone()[0])

    def load(self, recording_id: int, mmap: bool = True) -> npt.NDArray[np.int16]:
        """The int16 ``(samples, channels)`` payload, memory-mapped unless ``mmap=False``."""
        info = self.get(recording_id)
        try:
            arr = np.load(info.payload, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DatasetError(
                f"{info.payload}: cannot read recording {recording_id} ({exc})"
            ) from None
        if arr.dtype != np.int16 or arr.ndim != 2:
            raise DatasetError(f"{info.payload}: not an int16 (samples, channels) payload")
        return arr[: info.samples] if info.state != "recording" else arr  # type: ignore[no-any-return]

    def load_physical(self, recording_id: int) -> npt.NDArray[np.float64]:
        """Samples in physical units: counts / fixedPointScale."""
        info = self.get(recording_id)
        return np.asarray(self.load(recording_id), dtype=np.float64) / info.fixed_point_scale

    # -- editing ------------------------------------------------------------------------------

    def update(
        self,
        recording_id: int,
        *,
        label: str | _Keep | None = KEEP,
        tags: Mapping[str, str] | None = None,
        segments: Sequence[Segment] | None = None,
    ) -> None:
        """Relabel, retag or resegment a recording (payloads are never rewritten)."""
        info = self.get(recording_id)
        new_label = info.label if isinstance(label, _Keep) else self.config.validate_label(label)
        new_tags = info.tags if tags is None else self.config.validate_tags(tags)
        with self.transaction() as c:
            sid = self._stratum(c, new_label, new_tags)
            c.execute("UPDATE recordings SET stratum = ? WHERE id = ?", (sid, recording_id))
            if segments is not None:
                segs = _check_segments(self, segments, info.samples)
                c.execute("DELETE FROM segments WHERE recording = ?", (recording_id,))
                c.executemany(
                    "INSERT INTO segments VALUES (?, ?, ?, ?)",
                    [(recording_id, s.start, s.stop, s.label) for s in segs],
                )

    def delete(self, recording_id: int) -> None:
        """Remove a recording's row and payload."""
        info = self.get(recording_id)
        with self.transaction() as c:
            c.execute("DELETE FROM recordings WHERE id = ?", (recording_id,))
        with contextlib.suppress(FileNotFoundError):
            info.payload.unlink()

    def _finish(
        self, rid: int, samples: int, rate: float, quality: CaptureQuality, state: str, note: str
    ) -> None:
        with self.transaction() as c:
            c.execute(
                "UPDATE recordings SET state = ?, samples = ?, duration = ?, quality = ?, note = ?"
                " WHERE id = ?",
                (state, samples, samples / rate, json.dumps(quality.to_mapping()), note, rid),
            )

    def _drop(self, rid: int) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM recordings WHERE id = ?", (rid,))


class RecordingWriter:
    """Streams int16 blocks of one recording to disk. A context manager: leaving the block by an
    exception keeps what was written, marked interrupted (nothing written → the row is dropped).
    """

    def __init__(
        self, dataset: Dataset, recording_id: int, path: Path, npy: GrowingNpy, rate: float
    ) -> None:
        self.dataset = dataset
        self.recording_id = recording_id
        self.path = path
        self.quality = CaptureQuality()  # a capture source may keep this current
        self._npy = npy
        self._rate = rate
        self._buffer: list[npt.NDArray[np.int16]] = []
        self._buffered = 0
        self._done = False

    @property
    def channels(self) -> int:
        return self._npy.channels

    @property
    def samples(self) -> int:
        """Samples appended so far (flushed or buffered)."""
        return self._npy.rows + sum(int(b.shape[0]) for b in self._buffer)

    def append(self, samples: npt.NDArray[np.int16]) -> None:
        """Queue a block of int16 ``(n, channels)``; written to disk every 64 KiB."""
        if self._done:
            raise DatasetError(f"recording {self.recording_id} is finished; start a new one")
        x = np.asarray(samples)
        if x.ndim == 1 and self.channels == 1:
            x = x[:, None]
        if x.dtype != np.int16 or x.ndim != 2 or x.shape[1] != self.channels:
            raise DatasetError(
                f"append expects int16 (n, {self.channels}) blocks, got {x.dtype} {x.shape}"
            )
        if x.shape[0] == 0:
            return
        self._buffer.append(x.copy())
        self._buffered += x.nbytes
        if self._buffered >= CHUNK_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write buffered samples now; the payload is a readable ``.npy`` of them afterwards."""
        if not self._buffer:
            return
        block = self._buffer[0] if len(self._buffer) == 1 else np.concatenate(self._buffer)
        self._buffer, self._buffered = [], 0
        try:
            self._npy.append(block)
        except OSError as exc:
            raise DatasetError(f"{self.path}: cannot write ({exc.strerror})") from None

    def finish(self, quality: CaptureQuality, *, interrupted: bool = False, note: str = "") -> int:
        """Flush, sync and close the payload and mark the row complete (or interrupted)."""
        if self._done:
            return self.recording_id
        try:
            self.flush()
            self._npy.sync()
        finally:
            self._npy.close()
            self._done = True
        self.quality = quality
        state = "interrupted" if interrupted else "complete"
        self.dataset._finish(self.recording_id, self._npy.rows, self._rate, quality, state, note)
        return self.recording_id

    def abort(self) -> None:
        """Cancel: remove the payload and the row."""
        if self._done:
            return
        self._buffer = []
        self._npy.close()
        self._done = True
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.dataset._drop(self.recording_id)

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._done:
            return
        if exc_type is None:
            self.finish(self.quality)
        elif self.samples == 0:
            self.abort()
        else:
            self.finish(self.quality, interrupted=True, note=f"stopped: {exc}"[:200])


def _check_segments(ds: Dataset, segments: Sequence[Segment], samples: int) -> list[Segment]:
    out = sorted(segments, key=lambda s: s.start)
    for s in out:
        ds.config.validate_label(s.label)
        if not 0 <= s.start < s.stop <= samples:
            raise DatasetError(
                f"segment {s.label!r} [{s.start}, {s.stop}) is outside the recording's "
                f"{samples} samples"
            )
    for a, b in itertools.pairwise(out):
        if b.start < a.stop:
            raise DatasetError(f"segments {a.label!r} and {b.label!r} overlap")
    return out


def _lock_fd(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _try_lock(path: Path, create: bool = False, wait: bool = False) -> int | bool:
    """Take an exclusive advisory lock: its fd, True (nothing to lock) or False (held)."""
    if fcntl is None:
        return True
    try:
        fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o644)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return False
    return fd
