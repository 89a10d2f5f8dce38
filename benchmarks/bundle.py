"""Bundle verification time per bundle on the host: Python (cryptography/OpenSSL + hashlib)
and the firmware's C++ verifier (mbedTLS, host build), plus the negative-corpus sizes."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from core.bundle.corpus import build_corpus  # noqa: E402
from core.bundle.native import NativeVerifierUnavailable, native_bench  # noqa: E402
from core.bundle.sample import SAMPLE_SIZES, sample_components, sample_manifest  # noqa: E402
from core.bundle.sign import seal  # noqa: E402
from core.bundle.trust import TrustedKey  # noqa: E402
from core.bundle.verify import DeviceContext, verify_bundle  # noqa: E402

LARGE_SIZES = dict(SAMPLE_SIZES, firmware=1536 * 1024, model=256 * 1024)


def _best(fn: object, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    key = ec.derive_private_key(0xBE4C, ec.SECP256R1())
    ctx = DeviceContext(trusted_keys=(TrustedKey.from_public_key(key.public_key()),))
    print("== Bundle verification (host) ==")
    print(f"{'bundle':<28}{'bytes':>10}{'Python ms':>12}{'Python file ms':>16}{'C++ ms':>10}")
    for label, sizes in (("sample (147 KiB)", SAMPLE_SIZES), ("large (1.8 MB)", LARGE_SIZES)):
        comps = sample_components(4, sizes)
        data = seal(sample_manifest(key, comps), comps, key)
        assert verify_bundle(data, ctx).ok
        py = _best(lambda d=data: verify_bundle(d, ctx), 20) * 1e3
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "b.fbb"
            path.write_bytes(data)
            py_file = _best(lambda p=path: verify_bundle(p, ctx), 20) * 1e3
        try:
            cpp = f"{native_bench(data, ctx, 50) / 1e3:10.2f}"
        except NativeVerifierUnavailable:
            cpp = f"{'n/a':>10}"
        print(f"{label:<28}{len(data):>10}{py:>12.2f}{py_file:>16.2f}{cpp}")
    stranger = ec.derive_private_key(0xBE4D, ec.SECP256R1())
    corpus = build_corpus(key, stranger)
    print("negative corpus cases per class:")
    for klass, n in sorted(corpus.counts().items()):
        print(f"  {klass:<26}{n:>6}")
    print(f"  {'total':<26}{len(corpus.cases):>6}")


if __name__ == "__main__":
    main()
