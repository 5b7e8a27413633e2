"""Models by name: a catalog (data file), conversion of bundled GGUFs, and loading."""

from outweigh.models.catalog import ModelEntry, catalog, resolve
from outweigh.models.loader import LoadedModel, is_converted, load, pull
from outweigh.models.options import LoadOptions

__all__ = [
    "LoadOptions",
    "LoadedModel",
    "ModelEntry",
    "catalog",
    "is_converted",
    "load",
    "pull",
    "resolve",
]
