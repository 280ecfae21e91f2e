"""Store errors.

StoreError
├── AlreadyExists       a create collided with an existing id
├── NotFoundInStore     the row to change is not there
├── VersionConflict     optimistic concurrency: the row changed since the caller read it
├── ConstraintViolation the database refused a write (unique key, foreign key): the stores turn
│                       it into one of the above where it has a meaning for the caller
└── StoreUnavailable    the database does not answer (PostgreSQL down, SQLite locked by another
                        process for longer than its busy timeout): the configuration API
                        answers 503 `store_unavailable`; the storefront keeps serving from memory
"""

from __future__ import annotations


class StoreError(Exception):
    code = "store_error"


class AlreadyExists(StoreError):
    code = "already_exists"


class NotFoundInStore(StoreError):
    code = "not_found"


class VersionConflict(StoreError):
    code = "version_conflict"

    def __init__(self, current_version: int) -> None:
        super().__init__(f"the stored version is {current_version}")
        self.current_version = current_version


class ConstraintViolation(StoreError):
    code = "constraint_violation"


class StoreUnavailable(StoreError):
    code = "store_unavailable"
