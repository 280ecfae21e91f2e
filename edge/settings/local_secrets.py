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
    generated_operator_token: bool
    operator_token_path: Path | None


def ensure_local_secrets(settings: Settings) -> LocalSecrets:
    """Fill a missing secret key and operator token from files under `data_dir`.

    The files are created with mode 0600 the first time and read on every later start, so
    tokens and signed sticky cookies survive restarts.
    """
    if settings.env is not None:
        return LocalSecrets(settings, generated_operator_token=False, operator_token_path=None)
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    updated = settings
    if not settings.secret_key:
        updated = replace(updated, secret_key=_read_or_create(data_dir / "secret-key"))
    token_path: Path | None = None
    if not settings.operator_token:
        token_path = data_dir / "operator-token"
        updated = replace(updated, operator_token=_read_or_create(token_path))
    return LocalSecrets(updated, generated_operator_token=token_path is not None,
                        operator_token_path=token_path)  # fmt: skip


def _read_or_create(path: Path) -> str:
    try:
        value = path.read_text(encoding="ascii").strip()
        if value:
            return value
    except FileNotFoundError:
        pass
    value = secrets.token_urlsafe(32)
    # O_EXCL: two workers starting at once never overwrite each other's fresh secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value + "\n")
    return value
