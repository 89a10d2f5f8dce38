"""The one place that imports PyTorch, lazily, with an actionable error when it is missing."""

from __future__ import annotations

import importlib.util
from typing import Any

from core.train.errors import INSTALL_HINT, TorchMissingError

TORCH_VERSION = "2.13.0"  # the [train] extra pins it (a CPU build on our machines)


def torch_available() -> bool:
    """True when ``import torch`` would succeed (checked without importing it)."""
    return importlib.util.find_spec("torch") is not None


def require_torch() -> Any:
    """``import torch`` or raise ``TorchMissingError`` with the install command."""
    try:
        import torch
    except ImportError:
        raise TorchMissingError(INSTALL_HINT) from None
    return torch
