"""Qt item models and proxies: thin adapters over core values."""

from __future__ import annotations

from locallama_gui.gui.models.catalogue_model import (
    MODEL_ROLE,
    SORT_ROLE,
    CatalogueFilterProxy,
    CatalogueModel,
    CatalogueRow,
    Col,
)

__all__ = [
    "MODEL_ROLE",
    "SORT_ROLE",
    "CatalogueFilterProxy",
    "CatalogueModel",
    "CatalogueRow",
    "Col",
]
