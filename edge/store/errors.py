"""Store errors.

StoreError
├── AlreadyExists     a create collided with an existing id
├── NotFoundInStore   the row to change is not there
└── VersionConflict   optimistic concurrency: the row changed since the caller read it
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
