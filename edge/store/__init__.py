"""Storage: the `Store` protocol, its records and errors, and the embedded SQLite store."""

from edge.store.base import Store
from edge.store.errors import AlreadyExists, NotFoundInStore, StoreError, VersionConflict
from edge.store.records import ExperienceRecord, SiteRecord
from edge.store.sqlite import SqliteStore

__all__ = [
    "AlreadyExists",
    "ExperienceRecord",
    "NotFoundInStore",
    "SiteRecord",
    "SqliteStore",
    "Store",
    "StoreError",
    "VersionConflict",
]
