"""Fieldbench core: the Qt-free engine."""

__version__ = "0.1.0"
