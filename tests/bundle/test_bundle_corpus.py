"""The negative corpus (threat model S1-S7, S9): every case rejected with its reason, and the
C++ verifier of the firmware (host build) gives exactly the same verdict as Python."""

from __future__ import annotations

from collections import Counter

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from core.bundle.corpus import Corpus, build_corpus, run_python
from core.bundle.native import run_native

# Cases per class for the sample bundle (147 KiB, 628-byte manifest, 70-byte signature).
# The metadata classes scale with the manifest and signature sizes, the others are fixed.
EXPECTED_FIXED_COUNTS = {
    "bitflip_header": 64 * 8,
    "bitflip_header_resealed": 54 * 8,
    "byteflip_component": 41,
    "truncate_4k": 37,
    "trailing_data": 3,
    "not_a_bundle": 2,
    "signer": 2,
    "signature_encoding": 10,
    "downgrade": 2,
    "mix_and_match": 3 * 78,
    "expired": 1,
    "wrong_target": 5,
    "incompatible_firmware": 1,
    "oversize": 4,
    "accepted": 4,
}


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    key = ec.derive_private_key(0x5EED_0001, ec.SECP256R1())
    stranger = ec.derive_private_key(0x5EED_0002, ec.SECP256R1())
    return build_corpus(key, stranger)


@pytest.fixture(scope="module")
def python_verdicts(corpus: Corpus) -> list[str]:
    return run_python(corpus)


@pytest.fixture(scope="module")
def native_verdicts(corpus: Corpus) -> list[str]:
    return run_native(corpus.base, [c.native() for c in corpus.cases])


def test_corpus_has_every_class_with_its_count(corpus: Corpus) -> None:
    counts = corpus.counts()
    for klass, n in EXPECTED_FIXED_COUNTS.items():
        assert counts[klass] == n, klass
    metadata = len(corpus.base) - corpus.manifest.payload_size
    header, manifest_bits = 64, (metadata - 64) * 8
    assert counts["bitflip_manifest"] + counts["bitflip_signature"] == manifest_bits
    assert counts["truncate_metadata"] == metadata
    assert header * 8 == counts["bitflip_header"]


def test_python_gives_the_expected_reason_for_every_case(
    corpus: Corpus, python_verdicts: list[str]
) -> None:
    wrong = [
        (c.klass, c.op[:32], got, sorted(c.expected))
        for c, got in zip(corpus.cases, python_verdicts, strict=True)
        if got not in c.expected
    ]
    assert wrong == []


def test_cpp_verdicts_are_identical_to_python(
    corpus: Corpus, python_verdicts: list[str], native_verdicts: list[str]
) -> None:
    differ = [
        (c.klass, c.op[:32], py, cc)
        for c, py, cc in zip(corpus.cases, python_verdicts, native_verdicts, strict=True)
        if py != cc
    ]
    assert differ == []


def test_nothing_but_the_positive_controls_is_accepted(
    corpus: Corpus, native_verdicts: list[str]
) -> None:
    accepted = Counter(
        c.klass for c, v in zip(corpus.cases, native_verdicts, strict=True) if v == "OK"
    )
    assert accepted == Counter({"accepted": 4})


def test_every_foreign_recombination_of_three_releases_is_rejected(
    corpus: Corpus, native_verdicts: list[str]
) -> None:
    mixed = [
        v for c, v in zip(corpus.cases, native_verdicts, strict=True) if c.klass == "mix_and_match"
    ]
    assert len(mixed) == 3 * 78
    assert all(v.startswith("HASH_MISMATCH:") for v in mixed)
    # The firmware, model, thresholds or calibration of another release is what is named.
    assert {v.split(":")[1] for v in mixed} == {"firmware", "model", "thresholds", "calibration"}


def test_header_bit_flips_are_caught_by_the_checksum_before_anything_else(
    corpus: Corpus, python_verdicts: list[str]
) -> None:
    verdicts = Counter(
        v for c, v in zip(corpus.cases, python_verdicts, strict=True) if c.klass == "bitflip_header"
    )
    assert verdicts == Counter({"BAD_CHECKSUM": 464, "BAD_MAGIC": 32, "BAD_FORMAT_VERSION": 16})
