from __future__ import annotations

from pathlib import Path

import pytest

from edge.settings import SettingsError, load_settings

CONFIG = """
name = "kx-edge"
main = "edge/asgi.py"
compatibility_date = "2026-11-01"

[vars]
segment_cache_ttl_s = 7200
negative_cache_ttl_s = 600
log_level = "info"

[env.staging.vars]
negative_cache_ttl_s = 300
public_url = "https://staging.example.com"
[[env.staging.kv_namespaces]]
binding = "SEGMENT_CACHE"
id = "redis://127.0.0.1:6379/3"

[env.production.vars]
public_url = "https://kx.example.com"
"""

SECRETS = {
    "KX_EDGE_SECRET_KEY": "s" * 40,
    "KX_EDGE_OPERATOR_TOKEN": "o" * 40,
    "KLAVIYO_CLIENT_ID": "client-id",
    "KLAVIYO_CLIENT_SECRET": "c" * 40,
}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "kx-edge.toml"
    path.write_text(CONFIG)
    return path


def test_file_values_apply_without_an_environment(config: Path) -> None:
    settings = load_settings(config_path=config, environ={}).settings
    assert settings.segment_cache_ttl_s == 7200
    assert settings.negative_cache_ttl_s == 600
    assert settings.redis_url is None
    assert settings.compatibility_date == "2026-11-01"


def test_env_section_overrides_the_file(config: Path) -> None:
    settings = load_settings(env_name="staging", config_path=config, environ=SECRETS).settings
    assert settings.negative_cache_ttl_s == 300
    assert settings.segment_cache_ttl_s == 7200  # not overridden: the file's value stays
    assert settings.redis_url == "redis://127.0.0.1:6379/3"
    assert settings.public_url == "https://staging.example.com"


def test_environment_variables_override_both(config: Path) -> None:
    environ = {**SECRETS, "KX_EDGE_NEGATIVE_CACHE_TTL_S": "42", "KX_EDGE_REDIS_URL": "redis://other:6379/1"}
    settings = load_settings(env_name="staging", config_path=config, environ=environ).settings
    assert settings.negative_cache_ttl_s == 42
    assert settings.redis_url == "redis://other:6379/1"


def test_env_can_be_chosen_through_the_environment(config: Path) -> None:
    settings = load_settings(config_path=config, environ={**SECRETS, "KX_EDGE_ENV": "staging"}).settings
    assert settings.env == "staging"
    assert settings.negative_cache_ttl_s == 300


def test_a_missing_secret_under_production_names_it(config: Path) -> None:
    environ = {k: v for k, v in SECRETS.items() if k != "KX_EDGE_SECRET_KEY"}
    with pytest.raises(SettingsError) as caught:
        load_settings(env_name="production", config_path=config, environ=environ)
    assert any("KX_EDGE_SECRET_KEY" in problem for problem in caught.value.problems)
    assert len(caught.value.problems) == 1


def test_every_problem_is_reported_at_once(config: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            env_name="production",
            config_path=config,
            environ={"KX_EDGE_RESOLVE_DEADLINE_MS": "soon", "KX_EDGE_LOG_LEVEL": "loud"},
        )
    text = "\n".join(caught.value.problems)
    for name in (
        "KX_EDGE_SECRET_KEY",
        "KX_EDGE_OPERATOR_TOKEN",
        "KLAVIYO_CLIENT_ID",
        "KLAVIYO_CLIENT_SECRET",
        "resolve_deadline_ms",
        "log_level",
    ):
        assert name in text


def test_an_unknown_env_section_is_an_error(config: Path) -> None:
    with pytest.raises(SettingsError, match=r"\[env.qa\]"):
        load_settings(env_name="qa", config_path=config, environ=SECRETS)


def test_a_secret_in_the_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[vars]\nsecret_key = "in-the-repo"\n')
    with pytest.raises(SettingsError, match="KX_EDGE_SECRET_KEY"):
        load_settings(config_path=path, environ={})


def test_segment_ttl_is_capped_at_a_day(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="segment_cache_ttl_s"):
        load_settings(config_path=None, environ={"KX_EDGE_SEGMENT_CACHE_TTL_S": "90000"})


def test_unknown_keys_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "typo.toml"
    path.write_text('colour = "blue"\n[vars]\nsegment_cache_ttl = 5\n')
    result = load_settings(config_path=path, environ={"KX_EDGE_RESOLVE_DEADLINE": "5"})
    assert sorted(result.warnings) == [
        "KX_EDGE_RESOLVE_DEADLINE: unknown setting (ignored)",
        "colour: unknown key (ignored)",
        "vars.segment_cache_ttl: unknown setting (ignored)",
    ]


def test_invalid_toml_is_a_problem_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[vars\n")
    with pytest.raises(SettingsError, match=r"broken\.toml"):
        load_settings(config_path=path, environ={})


def test_an_explicit_config_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(config_path=tmp_path / "missing.toml", environ={})


def test_masked_settings_never_show_secrets(config: Path) -> None:
    environ = {**SECRETS, "KX_EDGE_REDIS_URL": "redis://user:hunter2-password@redis:6379/0"}
    shown = str(load_settings(env_name="production", config_path=config, environ=environ).settings.masked())
    for secret in (*SECRETS.values(), "hunter2-password"):
        if secret != "client-id":
            assert secret not in shown
    assert "redis://user:****@redis:6379/0" in shown


def test_repr_never_shows_secrets(config: Path) -> None:
    settings = load_settings(env_name="production", config_path=config, environ=SECRETS).settings
    assert SECRETS["KX_EDGE_SECRET_KEY"] not in repr(settings)
    assert SECRETS["KLAVIYO_CLIENT_SECRET"] not in repr(settings)


def test_old_keys_for_rotation_are_a_list(config: Path) -> None:
    environ = {**SECRETS, "KX_EDGE_SECRET_KEY_OLD": "old-one-1234, old-two-5678"}
    settings = load_settings(env_name="production", config_path=config, environ=environ).settings
    assert settings.secret_key_old == ("old-one-1234", "old-two-5678")


def test_the_events_lease_and_durable_wait_are_read_and_bounded(tmp_path: Path) -> None:
    environ = {"KX_EDGE_EVENTS_LEASE_S": "5", "KX_EDGE_EVENTS_DURABLE_WAIT_S": "0"}
    settings = load_settings(config_path=None, environ=environ).settings
    assert (settings.events_lease_s, settings.events_durable_wait_s) == (5.0, 0.0)
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={"KX_EDGE_EVENTS_LEASE_S": "0.5", "KX_EDGE_EVENTS_DURABLE_WAIT_S": "-1"})
    text = "\n".join(caught.value.problems)
    assert "KX_EDGE_EVENTS_LEASE_S" in text and "KX_EDGE_EVENTS_DURABLE_WAIT_S" in text
