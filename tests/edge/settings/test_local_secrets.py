from __future__ import annotations

import stat
from pathlib import Path

from edge.settings import Settings
from edge.settings.local_secrets import ensure_local_secrets, keep_secret


def test_missing_secrets_are_generated_once_then_reused(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path / "var"))
    first = ensure_local_secrets(settings)
    second = ensure_local_secrets(settings)
    assert first.operator_token_created and not second.operator_token_created  # shown once at most
    assert first.operator_token_path == second.operator_token_path == tmp_path / "var" / "operator-token"
    assert first.settings.secret_key and len(first.settings.secret_key) >= 40
    assert first.settings.secret_key == second.settings.secret_key
    assert first.settings.operator_token == second.settings.operator_token
    assert first.settings.secret_key != first.settings.operator_token
    for name in ("secret-key", "operator-token"):
        mode = stat.S_IMODE((tmp_path / "var" / name).stat().st_mode)
        assert mode == 0o600


def test_given_secrets_are_kept_and_nothing_is_written(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=str(tmp_path / "var"), secret_key="given-key-123456", operator_token="given-op"
    )
    result = ensure_local_secrets(settings)
    assert result.settings.secret_key == "given-key-123456"
    assert result.operator_token_path is None and not result.operator_token_created
    assert not (tmp_path / "var" / "secret-key").exists()


def test_named_environments_never_generate(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path / "var"), env="production")
    result = ensure_local_secrets(settings)
    assert result.settings.secret_key is None
    assert not (tmp_path / "var").exists()


def test_a_kept_secret_is_readable_by_its_owner_only_and_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "var" / "demo-api-key"
    path.parent.mkdir()
    path.write_text("an older, longer value\n")
    path.chmod(0o644)
    keep_secret(path, "sk_new")
    assert path.read_text() == "sk_new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
