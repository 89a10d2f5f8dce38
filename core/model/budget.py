"""Device budgets of an integer model: pool bytes, flash bytes, MACs and a latency estimate.

* ``pool_bytes`` = activation arena + kernel scratch (0 for the reference kernels) + the DSP
  front-end pool (``fb_fe_pool_bytes`` of the C++ host build for the feature config, when one
  is given). The C++ ``required_pool_bytes`` may add alignment slack and its handle; the bundle
  gate should prefer that figure when the host build is available.
* ``flash_bytes`` = the blob size.
* ``macs`` = multiply-accumulates per inference (``IntModel.macs``: conv/gemm products, pooling
  window reads, one per element for add and the input quantization).
* ``latency_ms`` — an ESTIMATE for an ESP32-S3 at 240 MHz: ``macs · cycles_per_mac +
  layers · cycles_per_layer`` cycles. The default 10 cycles/MAC is an assumption for the plain C
  reference kernels (their instruction goal is ≤ 10 instructions/MAC on x86, and the LX7 is an
  in-order core at roughly one instruction per cycle). Published anchors (ESP32-S3, 240 MHz,
  espressif/esp-tflite-micro README, person detection, ≈7.5 M MACs): 54 ms with ESP-NN ≈ 1.7
  cycles/MAC; 2300 ms with TFLM reference kernels ≈ 74 cycles/MAC. Not measured on hardware.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from core.model.arena import ArenaPlan, plan_arena
from core.model.blob import write_blob
from core.model.ir import IntModel

CPU_HZ = 240_000_000
CYCLES_PER_MAC = 10.0
CYCLES_PER_LAYER = 2_000  # dispatch, loop set-up, requant tails — an assumption
CYCLES_PER_MAC_SOURCE = (
    "assumption for the plain C reference kernels (≤ 10 instructions/MAC goal, ~1 instruction "
    "per cycle on the in-order Xtensa LX7); anchors: ESP-NN ≈ 1.7 and TFLM reference ≈ 74 "
    "cycles/MAC from the person-detection figures (54 ms / 2300 ms at 240 MHz, "
    "espressif/esp-tflite-micro README); an estimate, not a measurement"
)
#: The seed's default budget (bundle gate).
DEFAULT_PEAK_RAM_BUDGET_BYTES = 12288
DEFAULT_MAX_LATENCY_MS = 45.0


@dataclass(frozen=True)
class Budget:
    arena_bytes: int
    scratch_bytes: int
    fe_pool_bytes: int | None  # None: no feature config given / host build missing
    pool_bytes: int
    flash_bytes: int
    macs: int
    layers: int
    cycles_per_mac: float
    cycles_per_layer: int
    latency_ms: float
    latency_source: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def within(
        self,
        ram_budget: int = DEFAULT_PEAK_RAM_BUDGET_BYTES,
        max_latency_ms: float = DEFAULT_MAX_LATENCY_MS,
    ) -> bool:
        return self.pool_bytes <= ram_budget and self.latency_ms <= max_latency_ms


def latency_ms(
    macs: int,
    layers: int,
    cycles_per_mac: float = CYCLES_PER_MAC,
    cycles_per_layer: int = CYCLES_PER_LAYER,
    cpu_hz: int = CPU_HZ,
) -> float:
    return (macs * cycles_per_mac + layers * cycles_per_layer) / cpu_hz * 1000.0


def fe_pool_bytes(feature_config: object) -> int | None:
    """``fb_fe_pool_bytes`` of the C++ host build for a ``PreprocessingConfig`` (None if absent)."""
    from core.dsp.native import NativeExtractor, NativeUnavailable
    from core.dsp.plan import compile_plan

    try:
        return int(NativeExtractor(compile_plan(feature_config)).pool_bytes)  # type: ignore[arg-type]
    except NativeUnavailable:
        return None


def compute_budget(
    model: IntModel,
    *,
    plan: ArenaPlan | None = None,
    blob: bytes | None = None,
    scratch_bytes: int = 0,
    feature_config: object | None = None,
    fe_pool: int | None = None,
    cycles_per_mac: float = CYCLES_PER_MAC,
    cycles_per_layer: int = CYCLES_PER_LAYER,
) -> Budget:
    """Budgets for ``model``; ``fe_pool`` overrides the front-end pool lookup."""
    plan = plan or plan_arena(model)
    blob = blob if blob is not None else write_blob(model, plan, scratch_bytes)
    fe = (
        fe_pool
        if fe_pool is not None
        else (fe_pool_bytes(feature_config) if feature_config is not None else None)
    )
    macs = model.macs()
    n_layers = len(model.layers) + 1  # + the input quantization step
    return Budget(
        arena_bytes=plan.arena_bytes,
        scratch_bytes=scratch_bytes,
        fe_pool_bytes=fe,
        pool_bytes=plan.arena_bytes + scratch_bytes + (fe or 0),
        flash_bytes=len(blob),
        macs=macs,
        layers=n_layers,
        cycles_per_mac=cycles_per_mac,
        cycles_per_layer=cycles_per_layer,
        latency_ms=latency_ms(macs, n_layers, cycles_per_mac, cycles_per_layer),
        latency_source=CYCLES_PER_MAC_SOURCE,
    )
