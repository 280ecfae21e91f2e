"""Storage: the protocols the edge depends on, the `Database` adapter with its backends, and
the stores written once over it (see docs/storage.md).

    db = await open_database(settings)     # SQLite file, or PostgreSQL with database_url
    sites = SqlSiteStore(db)               # sites and experiences: the `Store` protocol
"""

from edge.store.base import AdminSessionStore, Store, SwitchStore
from edge.store.database import Database
from edge.store.errors import (
    AlreadyExists,
    NotFoundInStore,
    StoreError,
    StoreUnavailable,
    VersionConflict,
)
from edge.store.opening import open_database
from edge.store.records import AdminSession, ExperienceRecord, SiteRecord
from edge.store.sites import SqlSiteStore

__all__ = [
    "AdminSession",
    "AdminSessionStore",
    "AlreadyExists",
    "Database",
    "ExperienceRecord",
    "NotFoundInStore",
    "SiteRecord",
    "SqlSiteStore",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "SwitchStore",
    "VersionConflict",
    "open_database",
]
