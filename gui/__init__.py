"""Fieldbench GUI: PySide6 widgets over core."""
