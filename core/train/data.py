"""Training data from the workspace's dataset: split parts → feature windows, augmented on the fly.

* The split is the dataset's own (``core.dataset.splits.make_split``): grouped by capture
  session, stratified by the coverage axes and the label, seeded.
* Training windows are recomputed every epoch: a share of the training recordings is augmented
  (``core.dataset.augment``: recorded background noise at a drawn SNR, gain/offset drift, time
  shift) in physical units, re-quantized and run through the same fixed-point front-end the
  device uses (``core.dsp``). Validation and test windows are never augmented.
* Windows: ``dense_ae`` takes one frame ``[F]``; the CNNs take ``frames`` consecutive frames,
  feature-major ``[F, 1, T]`` (the ``[N, C, 1, W]`` layout of ``core.model``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.dataset.augment import Augmentation, add_noise, drift, time_shift
from core.dsp.config import PreprocessingConfig
from core.dsp.fixed import extract_features
from core.dsp.plan import FeaturePlan, compile_plan
from core.errors import Cancelled
from core.model.calibration import EvalSet
from core.train.config import TrainConfig
from core.train.errors import TrainDataError

F64 = npt.NDArray[np.float64]
I16 = npt.NDArray[np.int16]
#: Model input = f32(feature) · INPUT_SCALE: Q8 log2 energies → log2 units (docs/dsp.md).
INPUT_SCALE = 1.0 / 256.0
CancelFn = Callable[[], bool]


@dataclass
class Recording:
    """One labelled recording of a split part, in physical units."""

    id: int
    label: str
    tags: dict[str, str]
    signal: F64  # (samples, channels), physical units
    scale: float  # fixedPointScale of the recording


@dataclass
class TrainData:
    """Everything a run reads: training recordings (augmented per epoch), val and test sets."""

    task: str  # "anomaly" | "classifier"
    class_names: list[str]
    features: PreprocessingConfig
    frames: int  # 1 for dense_ae
    hop: int
    train: list[Recording]
    val: EvalSet
    test: EvalSet
    augment: Callable[[F64, np.random.Generator], F64] | None = None
    augment_probability: float = 0.0
    split_name: str = ""
    notes: list[str] = field(default_factory=list)
    fixed_train: EvalSet | None = None  # ready-made training windows (no augmentation)
    _plan: FeaturePlan | None = None
    _clean: dict[int, I16] = field(default_factory=dict)

    @property
    def plan(self) -> FeaturePlan:
        if self._plan is None:
            self._plan = compile_plan(self.features)
        return self._plan

    @property
    def sample_shape(self) -> tuple[int, ...]:
        if self.fixed_train is not None:
            return tuple(int(d) for d in self.fixed_train.features.shape[1:])
        f = int(self.features.channels * self.features.features_per_channel)
        return (f,) if self.frames == 1 else (f, 1, self.frames)

    def clean_train_set(self) -> EvalSet:
        """The training part without augmentation (all classes)."""
        if self.fixed_train is not None:
            return self.fixed_train
        return self._windows(self.train, None, None)

    def epoch_set(self, rng: np.random.Generator, cancel: CancelFn | None = None) -> EvalSet:
        """Training windows for one epoch; a share of the recordings freshly augmented."""
        if self.fixed_train is not None:
            return self.fixed_train
        return self._windows(self.train, rng, cancel)

    def _windows(
        self,
        recs: Sequence[Recording],
        rng: np.random.Generator | None,
        cancel: CancelFn | None,
    ) -> EvalSet:
        feats: list[I16] = []
        labels: list[int] = []
        tags: list[dict[str, str]] = []
        for rec in recs:
            if cancel is not None and cancel():
                raise Cancelled("training cancelled")
            augmented = (
                rng is not None
                and self.augment is not None
                and rng.random() < self.augment_probability
            )
            if augmented:
                assert self.augment is not None and rng is not None
                frames = _features(self.augment(rec.signal, rng), rec.scale, self.plan)
            else:
                if rec.id not in self._clean:
                    self._clean[rec.id] = _features(rec.signal, rec.scale, self.plan)
                frames = self._clean[rec.id]
            w = windows(frames, self.frames, self.hop)
            feats.append(w)
            labels += [self.class_names.index(rec.label)] * w.shape[0]
            tags += [dict(rec.tags) for _ in range(w.shape[0])]
        shape = self.sample_shape
        x = np.concatenate(feats) if feats else np.zeros((0, *shape), np.int16)
        return EvalSet(x, INPUT_SCALE, np.asarray(labels, np.int64), tags, list(self.class_names))


def windows(frames: I16, length: int, hop: int) -> I16:
    """``(n_frames, F)`` → ``[n, F]`` (length 1) or ``[n, F, 1, length]`` (feature-major)."""
    if length == 1:
        return np.asarray(frames, dtype=np.int16)
    starts = range(0, frames.shape[0] - length + 1, hop)
    rows = [frames[s : s + length].T[:, None, :] for s in starts]
    if not rows:
        return np.zeros((0, frames.shape[1], 1, length), np.int16)
    return np.stack(rows).astype(np.int16)


def _features(signal: F64, scale: float, plan: FeaturePlan) -> I16:
    q = np.clip(np.rint(signal * scale), -32768, 32767).astype(np.int16)
    return extract_features(q, plan)


def load_train_data(
    workspace_root: str | Path,
    features: PreprocessingConfig,
    config: TrainConfig,
    progress: Callable[[float], None] | None = None,
    cancel: CancelFn | None = None,
) -> TrainData:
    """Split the workspace's dataset and build the training data for ``config``.

    Raises ``TrainDataError`` for unlabelled recordings, a class without recordings in a part,
    or an empty part, each with what to record or change.
    """
    from core.dataset import Dataset
    from core.dataset.splits import make_split

    root = Path(workspace_root)
    with Dataset.open(root) as ds:
        noise = ds.config.noise_label
        all_ids = ds.filter_ids()
        infos = {r.id: r for r in ds.recordings()} if all_ids.size else {}
        unlabelled = sorted(i for i, r in infos.items() if not r.label)
        if unlabelled:
            shown = ", ".join(str(i) for i in unlabelled[:8])
            raise TrainDataError(
                f"{len(unlabelled)} recording(s) have no label (ids {shown}); label them in the "
                "Dataset tab or delete them before training"
            )
        labelled = [r for r in infos.values() if r.label != noise]
        if not labelled:
            raise TrainDataError(
                f"{root}: the dataset has no labelled recordings; capture or import some first"
            )
        class_names = _class_names(config, [str(r.label) for r in labelled], ds.config.labels)
        try:
            split = make_split(
                ds,
                fractions=config.split_fractions,
                seed=config.split_seed,
                label=class_names if config.task == "classifier" else None,
                name=f"train-seed{config.split_seed}",
                save=False,
            )
        except Exception as exc:  # DatasetError: nothing to split, bad tags
            raise TrainDataError(f"cannot split the dataset: {exc}") from None
        parts: dict[str, list[Recording]] = {}
        for k, part in enumerate(("train", "val", "test")):
            recs = []
            for rid in split.parts[part]:
                info = infos[int(rid)]
                if info.label not in class_names:
                    continue
                if info.fixed_point_scale != features.fixedPointScale:
                    raise TrainDataError(
                        f"recording {rid} has fixedPointScale {info.fixed_point_scale} but the "
                        f"workspace features use {features.fixedPointScale}; re-import it"
                    )
                recs.append(
                    Recording(
                        int(rid),
                        str(info.label),
                        dict(info.tags),
                        ds.load_physical(int(rid)),
                        info.fixed_point_scale,
                    )
                )
                if cancel is not None and cancel():
                    raise Cancelled("training cancelled")
            parts[part] = recs
            if progress is not None:
                progress((k + 1) / 3)
        _check_parts(parts, class_names, config, split.name)
        augment = None
        notes: list[str] = []
        if config.augment:
            noise_ids = ds.filter_ids(label=noise)
            noise_signals = [ds.load_physical(int(i)) for i in noise_ids]
            snr = config.snr_db
            if snr is not None and not noise_signals:
                notes.append(
                    f"no noise-profile recordings (label {noise!r}): augmenting with gain and "
                    "offset drift only; record the site's background to add its noise"
                )
                snr = None
            spec = Augmentation(
                snr_db=snr, gain=config.gain, offset=config.offset, shift=config.shift
            )
            augment = _augment_fn(spec, noise_signals)
    data = TrainData(
        task=config.task,
        class_names=class_names,
        features=features,
        frames=1 if config.family == "dense_ae" else config.frames,
        hop=config.hop,
        train=parts["train"],
        val=EvalSet(np.zeros((0,), np.int16), INPUT_SCALE),  # filled below
        test=EvalSet(np.zeros((0,), np.int16), INPUT_SCALE),
        augment=augment,
        augment_probability=config.augment_probability if augment else 0.0,
        split_name=split.name,
        notes=notes,
    )
    # Evaluation windows: hop 1 frame for the CNNs would over-count; use the window length.
    data.val = _eval_set(data, parts["val"])
    data.test = _eval_set(data, parts["test"]) if parts["test"] else data.val
    if not parts["test"]:
        data.notes.append("the split has no test part; the comparison uses the validation part")
    return data


def _eval_set(data: TrainData, recs: Sequence[Recording]) -> EvalSet:
    saved = data.hop
    data.hop = max(1, data.frames // 2)
    try:
        return data._windows(recs, None, None)
    finally:
        data.hop = saved


def _class_names(config: TrainConfig, labels: Sequence[str], declared: Sequence[str]) -> list[str]:
    present = sorted(set(labels))
    order = [lab for lab in declared if lab in present] + [
        lab for lab in present if lab not in declared
    ]
    if config.task == "anomaly":
        if config.normal_label not in present:
            raise TrainDataError(
                f"no recordings labelled {config.normal_label!r}: the autoencoder learns the "
                f"normal class; labels found: {', '.join(present)} (set train.normalLabel)"
            )
        return [config.normal_label, *[lab for lab in order if lab != config.normal_label]]
    if len(order) < 2:
        raise TrainDataError(
            f"a classifier needs at least two labels; the dataset has only {order}. Record "
            "the other condition, or train the anomaly autoencoder (family dense_ae)"
        )
    if config.normal_label in order:
        order.remove(config.normal_label)
        order.insert(0, config.normal_label)
    return order


def _check_parts(
    parts: dict[str, list[Recording]], class_names: Sequence[str], config: TrainConfig, split: str
) -> None:
    for part in ("train", "val"):
        if not parts[part]:
            raise TrainDataError(
                f"the {part} part of split {split} is empty; record more capture sessions "
                "(whole sessions go to one part) or change train.splitFractions"
            )
    if config.task == "anomaly":
        needed = {"train": [config.normal_label], "val": [config.normal_label]}
    else:
        needed = {"train": list(class_names), "val": list(class_names)}
    for part, classes in needed.items():
        have = {r.label for r in parts[part]}
        for c in classes:
            if c not in have:
                raise TrainDataError(
                    f"class {c!r} has no recordings in the {part} part of split {split}; "
                    "record it in more capture sessions, or change train.splitSeed / "
                    "train.splitFractions"
                )


def _augment_fn(
    spec: Augmentation, noise: Sequence[F64]
) -> Callable[[F64, np.random.Generator], F64]:
    """An augmentation drawing from the run's own generator (reproducible per seed)."""

    def apply(signal: F64, rng: np.random.Generator) -> F64:
        out = np.array(signal, dtype=np.float64, copy=True)
        if spec.snr_db is not None and noise:
            n = noise[int(rng.integers(0, len(noise)))]
            out = add_noise(out, n, float(rng.uniform(*spec.snr_db)), rng)
        g = (float(rng.uniform(*spec.gain)), float(rng.uniform(*spec.gain)))
        o = (float(rng.uniform(*spec.offset)), float(rng.uniform(*spec.offset)))
        out = drift(out, g, o)
        if spec.shift:
            out = time_shift(out, int(rng.integers(-spec.shift, spec.shift + 1)))
        return out

    return apply


def data_from_sets(
    train: EvalSet, val: EvalSet, test: EvalSet | None, task: str, features: PreprocessingConfig
) -> TrainData:
    """Training data from ready-made window sets (benchmarks, tests; no augmentation)."""
    frames = 1 if train.features.ndim == 2 else int(train.features.shape[-1])
    data = TrainData(
        task=task,
        class_names=list(train.class_names),
        features=features,
        frames=frames,
        hop=1,
        train=[],
        val=val,
        test=test if test is not None else val,
        fixed_train=train,
    )
    return data
