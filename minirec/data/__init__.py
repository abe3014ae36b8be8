"""Datasets, splits and negative sampling."""

from __future__ import annotations

from .interactions import CSR, Interactions

__all__ = ["CSR", "Interactions"]
