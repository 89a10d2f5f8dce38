"""Errors of the training package: one sentence naming the thing and the fix."""

from __future__ import annotations

from core.errors import FieldbenchError

INSTALL_HINT = (
    "training needs PyTorch: install the extra with  pip install 'fieldbench[train]'  "
    "(or  make test , which installs it)"
)


class TrainError(FieldbenchError):
    """Training cannot run with the data or options given."""


class TorchMissingError(TrainError):
    """The optional ``fieldbench[train]`` extra (PyTorch) is not installed."""


class TrainDataError(TrainError):
    """The dataset cannot feed training: missing labels, an empty class or split part."""


class NonFiniteLossError(TrainError):
    """The loss became NaN or infinite."""


class BudgetError(TrainError):
    """The model would not fit the device budget."""
