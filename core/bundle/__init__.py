"""Signed atomic deployment bundles (docs/bundle-format.md).

Format: ``core.bundle.format`` (mirror of edge_runtime/bundle_format.h). Verify-only path:
``core.bundle.verify`` + ``core.bundle.trust``. Signing: ``core.bundle.keys`` (key store),
``core.bundle.sign``, ``core.bundle.build`` (spec, gate, atomic write), ``core.bundle.registry``.
"""
