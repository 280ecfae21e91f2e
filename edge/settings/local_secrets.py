"""Zero configuration: secrets generated once on a developer's machine and reused.

Only when no environment is named. `--env staging|production` never generates anything: a
missing secret there stops start-up (see `settings.REQUIRED_IN_NAMED_ENV`).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from edge.settings.loading import Settings


@dataclass(frozen=True, slots=True)
class LocalSecrets:
    settings: Settings
    operator_token_path: Path | None
    """Where the operator token is kept; None when it came from the environment."""
    operator_token_created: bool = False
    """This call created the token: the one start at which it may be shown."""


def ensure_local_secrets(settings: Settings) -> LocalSecrets:
    """Fill a missing secret key and operator token from files under `data_dir`.

    The files are created with mode 0600 the first time and read on every later start, so
    tokens and signed sticky cookies survive restarts.
    """
    if settings.env is not None:
        return LocalSecrets(settings, operator_token_path=None)
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    updated = settings
    if not settings.secret_key:
        secret_key, _ = _read_or_create(data_dir / "secret-key")
        updated = replace(updated, secret_key=secret_key)
    if settings.operator_token:
        return LocalSecrets(updated, operator_token_path=None)
    token_path = data_dir / "operator-token"
    token, created = _read_or_create(token_path)
    return LocalSecrets(replace(updated, operator_token=token), token_path, operator_token_created=created)


def keep_secret(path: Path, value: str) -> None:
    """Write `value` to `path` (replacing it) readable by this user only (mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older file keeps its mode through O_TRUNC
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value + "\n")


def _read_or_create(path: Path) -> tuple[str, bool]:
    """The secret kept at `path`, and whether this call created it."""
    try:
        value = path.read_text(encoding="ascii").strip()
        if value:
            return value, False
    except FileNotFoundError:
        pass
    value = secrets.token_urlsafe(32)
    # O_EXCL: two workers starting at once never overwrite each other's fresh secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip(), False
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value + "\n")
    return value, True
