"""Settings: one reader, one precedence.

The TOML file (shaped like Cloudflare's wrangler.toml) gives `[vars]` and `[[kv_namespaces]]`;
an `[env.NAME]` section overrides them for the named environment; `KX_EDGE_*` environment
variables override both. Secrets come only from the environment: a secret written in the file is
an error, not a fallback.

Problems are collected, not raised one at a time, so `kx-edge config check` can show them all.
`SettingsError` carries the list; every message names the setting it is about.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_CONFIG_PATH = Path("wrangler-like-config/kx-edge.toml")
ENV_PREFIX = "KX_EDGE_"
SEGMENT_CACHE_BINDING = "SEGMENT_CACHE"
MAX_SEGMENT_CACHE_TTL_S = 86_400

# Secrets: setting name -> the environment variable that is their only source.
SECRET_ENV = {
    "secret_key": "KX_EDGE_SECRET_KEY",
    "secret_key_old": "KX_EDGE_SECRET_KEY_OLD",
    "operator_token": "KX_EDGE_OPERATOR_TOKEN",
    "klaviyo_client_id": "KLAVIYO_CLIENT_ID",
    "klaviyo_client_secret": "KLAVIYO_CLIENT_SECRET",
}
# What a named environment (staging, production) must be given; nothing is generated there.
REQUIRED_IN_NAMED_ENV = (
    "secret_key",
    "operator_token",
    "klaviyo_client_id",
    "klaviyo_client_secret",
)
_TOP_LEVEL_KEYS = {"name", "main", "compatibility_date", "vars", "kv_namespaces", "env"}
_ENV_SECTION_KEYS = {"name", "vars", "kv_namespaces"}
# Environment variables with the prefix that are not settings of their own.
_NON_SETTING_ENV = {
    "KX_EDGE_ENV",
    "KX_EDGE_CONFIG",
    "KX_EDGE_DEMO",
    "KX_EDGE_TEST_REDIS_URL",
    "KX_EDGE_TEST_REDIS_CLUSTER_URL",
    "KX_EDGE_API_KEY",
}  # fmt: skip (KX_EDGE_API_KEY: the command line's credential)


class SettingsError(Exception):
    """Settings cannot be used; `problems` names each setting that is wrong and why."""

    code = "invalid_settings"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


MAX_KEY_ROTATION_GRACE_S = 30 * 86_400


@dataclass(frozen=True, slots=True)
class Settings:
    """The effective settings of one process. Field names are the public setting names."""

    name: str = "kx-edge"
    env: str | None = None
    compatibility_date: str | None = None
    data_dir: str = "./var"
    database: str = ""  # empty: <data_dir>/kx-edge.sqlite3
    # postgresql://user:password@host:port/db: every store on PostgreSQL (a fleet); None: SQLite.
    database_url: str | None = field(default=None, repr=False)
    database_pool_size: int = 10  # PostgreSQL connections per process, at most
    database_timeout_s: float = 2.0  # longest wait on the database before store_unavailable
    redis_url: str | None = None
    redis_prefix: str = "kxe:"
    redis_cluster: bool = False  # true: redis_url is a seed node of a Redis Cluster
    # PostgreSQL: a change is pushed to every node at once (LISTEN/NOTIFY); false: the poll alone.
    config_push: bool = True
    config_poll_interval_s: float = 0.5  # the version check, the safety net behind the push
    # A claimed event goes out again this long after its sender last claimed it (a dead node's
    # events are taken over after this); longer than one send to Klaviyo, or live sends repeat.
    events_lease_s: float = 30.0
    # How long an answer to a visit waits, at most, for its events to be written to the outbox.
    events_durable_wait_s: float = 0.1
    public_url: str = ""  # empty: derived from --host/--port by `kx-edge serve`
    log_level: str = "info"
    log_format: str = "auto"  # auto: text when stderr is a terminal, JSON otherwise
    access_log: bool = True
    # `/v1/assign` under `access_log`: one summary line per interval, a line per request, or none.
    assign_access_log: str = "summary"
    max_body_bytes: int = 65_536
    import_max_body_bytes: int = 4_194_304  # POST /v1/sites/{id}/import: a whole site's experiences
    assign_max_body_bytes: int = 8_192
    cors_max_age_s: int = 86_400
    # The trusted CDN header with the visitor's country (`country` conditions): CF-IPCountry
    # (Cloudflare), CloudFront-Viewer-Country, X-Vercel-IP-Country, ...
    country_header: str = "CF-IPCountry"
    klaviyo_api_base: str = "https://a.klaviyo.com"
    klaviyo_authorize_url: str = "https://www.klaviyo.com/oauth/authorize"
    klaviyo_token_url: str = "https://a.klaviyo.com/oauth/token"  # noqa: S105 (a URL)
    klaviyo_revoke_url: str = "https://a.klaviyo.com/oauth/revoke"
    klaviyo_revision: str = "2026-10-15"
    klaviyo_timeout_s: float = 5.0
    segment_cache_ttl_s: int = 86_400
    negative_cache_ttl_s: int = 3_600
    profile_id_cache_ttl_s: int = 30 * 86_400
    resolve_deadline_ms: int = 250
    l1_max_entries: int = 500_000
    segment_sync_enabled: bool = True
    segment_sync_interval_s: int = 3_600
    segment_sync_max_members: int = 2_000_000
    sticky_max_age_s: int = 400 * 86_400
    # Results (docs/results.md): count exposures, orders and bots; off: nothing is counted and
    # /v1/track answers 202 with accepted false.
    results_enabled: bool = True
    # Known crawlers' user agents get every test's control (reason `bot`) and are never counted.
    bot_check: bool = True
    results_flush_interval_s: float = 1.0  # the exposure counters reach the store this often
    webhook_secret_grace_s: int = 86_400  # a replaced webhook secret stays valid this long
    # After `POST /v1/sites/{id}/rotate-key` the replaced api key still opens the site this long.
    key_rotation_grace_s: int = 86_400
    worker_processes: int = 1  # set by `kx-edge serve --workers N`: each worker's share of budgets
    secret_key: str | None = field(default=None, repr=False)
    secret_key_old: tuple[str, ...] = field(default=(), repr=False)
    operator_token: str | None = field(default=None, repr=False)
    klaviyo_client_id: str | None = field(default=None, repr=False)
    klaviyo_client_secret: str | None = field(default=None, repr=False)

    @property
    def database_path(self) -> Path:
        return Path(self.database) if self.database else Path(self.data_dir) / "kx-edge.sqlite3"

    @property
    def klaviyo_configured(self) -> bool:
        return bool(self.klaviyo_client_id and self.klaviyo_client_secret)

    def masked(self) -> dict[str, Any]:
        """Every setting as shown by `config check`: secrets masked, never printed."""
        shown: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_ENV:
                value = _mask(value)
            elif f.name in {"redis_url", "database_url"} and value:
                value = masked_url(value)
            shown[f.name] = value
        shown["database_path"] = str(self.database_path)
        shown["database_backend"] = "postgres" if self.database_url else "sqlite"
        return shown


_SETTING_NAMES = frozenset(f.name for f in fields(Settings)) - {"env"}
_PLAIN_SETTINGS = _SETTING_NAMES - set(SECRET_ENV)
_POSITIVE_INTS = {
    "max_body_bytes", "import_max_body_bytes", "assign_max_body_bytes", "segment_cache_ttl_s", "negative_cache_ttl_s",
    "profile_id_cache_ttl_s", "resolve_deadline_ms", "l1_max_entries", "segment_sync_interval_s",
    "segment_sync_max_members", "sticky_max_age_s", "worker_processes", "database_pool_size",
    "webhook_secret_grace_s",
}  # fmt: skip
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_URLS = {"public_url", "klaviyo_api_base", "klaviyo_authorize_url", "klaviyo_token_url",
         "klaviyo_revoke_url"}  # fmt: skip


@dataclass(slots=True)
class LoadResult:
    """Settings plus what the reader noticed but could still work with."""

    settings: Settings
    warnings: list[str]
    source: Path | None


def load_settings(
    *,
    env_name: str | None = None,
    config_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadResult:
    """Read file -> `[env.NAME]` -> environment, validate, and return the settings.

    Raises `SettingsError` listing every problem. Unknown keys are returned as warnings.
    """
    environ = os.environ if environ is None else environ
    env_name = env_name or environ.get("KX_EDGE_ENV") or None
    problems: list[str] = []
    warnings: list[str] = []

    if config_path is None and environ.get("KX_EDGE_CONFIG"):
        config_path = Path(environ["KX_EDGE_CONFIG"])
    explicit = config_path
    path = explicit or (DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.is_file() else None)
    raw: dict[str, Any] = {}
    if path is not None:
        raw = _read_toml(path, problems)

    values: dict[str, Any] = {}
    _apply_section(raw, "", values, problems, warnings, top_level=True)
    if env_name:
        sections = raw.get("env", {})
        if not isinstance(sections, dict) or env_name not in sections:
            if path is not None:
                problems.append(f"env: no [env.{env_name}] section in {path}")
        else:
            _apply_section(sections[env_name], f"env.{env_name}.", values, problems, warnings)
    _apply_environ(environ, values, problems, warnings)

    settings = _build(values, env_name, problems)
    if env_name:
        for name in REQUIRED_IN_NAMED_ENV:
            if not getattr(settings, name):
                var = SECRET_ENV[name]
                problems.append(f"{var}: required with --env {env_name}; set it in the environment")
        if not settings.public_url:
            problems.append(f"{_source_name('public_url')}: required with --env {env_name}")
    if problems:
        raise SettingsError(problems)
    return LoadResult(settings=settings, warnings=warnings, source=path)


def _read_toml(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:  # tomllib needs binary mode
            return tomllib.load(handle)
    except FileNotFoundError:
        problems.append(f"config: file {path} does not exist")
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"config: {path} is not valid TOML ({exc})")
    return {}


def _apply_section(
    section: Any,
    where: str,
    values: dict[str, Any],
    problems: list[str],
    warnings: list[str],
    *,
    top_level: bool = False,
) -> None:
    if not isinstance(section, dict):
        problems.append(f"{where.rstrip('.') or 'config'}: must be a table")
        return
    allowed = _TOP_LEVEL_KEYS if top_level else _ENV_SECTION_KEYS
    for key in section:
        if key not in allowed:
            warnings.append(f"{where}{key}: unknown key (ignored)")
    if "name" in section:
        values["name"] = section["name"]
    if top_level and "compatibility_date" in section:
        values["compatibility_date"] = section["compatibility_date"]
    variables = section.get("vars", {})
    if not isinstance(variables, dict):
        problems.append(f"{where}vars: must be a table")
        variables = {}
    for key, value in variables.items():
        name = key.lower()
        if name in SECRET_ENV:
            problems.append(
                f"{where}vars.{key}: {name} is a secret and may only come from the "
                f"environment variable {SECRET_ENV[name]}"
            )
        elif name in _PLAIN_SETTINGS:
            values[name] = value
        else:
            warnings.append(f"{where}vars.{key}: unknown setting (ignored)")
    _apply_kv_namespaces(section.get("kv_namespaces"), where, values, problems, warnings)


def _apply_kv_namespaces(
    namespaces: Any, where: str, values: dict[str, Any], problems: list[str], warnings: list[str]
) -> None:
    if namespaces is None:
        return
    if not isinstance(namespaces, list):
        problems.append(f"{where}kv_namespaces: must be an array of tables ([[kv_namespaces]])")
        return
    for index, entry in enumerate(namespaces):
        label = f"{where}kv_namespaces[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{label}: must be a table")
            continue
        for key in entry:
            if key not in {"binding", "id"}:
                warnings.append(f"{label}.{key}: unknown key (ignored)")
        if entry.get("binding") != SEGMENT_CACHE_BINDING:
            warnings.append(f"{label}.binding: only {SEGMENT_CACHE_BINDING} is known (ignored)")
        elif not isinstance(entry.get("id"), str) or not entry["id"]:
            problems.append(f"{label}.id: the Redis URL of {SEGMENT_CACHE_BINDING} is required")
        else:
            values["redis_url"] = entry["id"]


def _apply_environ(
    environ: Mapping[str, str], values: dict[str, Any], problems: list[str], warnings: list[str]
) -> None:
    for name, variable in SECRET_ENV.items():
        if environ.get(variable):
            values[name] = environ[variable]
    for variable, value in environ.items():
        if not variable.startswith(ENV_PREFIX) or variable in _NON_SETTING_ENV:
            continue
        name = variable[len(ENV_PREFIX) :].lower()
        if name in SECRET_ENV:
            continue  # read above, under its own variable name
        if name in _PLAIN_SETTINGS:
            values[name] = value
        else:
            warnings.append(f"{variable}: unknown setting (ignored)")


def _build(values: dict[str, Any], env_name: str | None, problems: list[str]) -> Settings:
    converted: dict[str, Any] = {}
    defaults = Settings()
    for name, value in values.items():
        default = getattr(defaults, name)
        try:
            converted[name] = _convert(name, value, default)
        except ValueError as exc:
            problems.append(f"{_source_name(name)}: {exc}")
    settings = replace(defaults, env=env_name, **converted)
    _validate(settings, problems)
    return settings


def _convert(name: str, value: Any, default: Any) -> Any:
    if name == "secret_key_old":
        items = value.split(",") if isinstance(value, str) else value
        return tuple(item.strip() for item in items if item.strip())
    if name in {"redis_url", "database_url", "compatibility_date"} or isinstance(default, str):
        if not isinstance(value, str):
            raise ValueError(f"must be a string, got {value!r}")
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise ValueError(f"must be true or false, got {value!r}")
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"must be a whole number, got {value!r}")
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"must be a whole number, got {value!r}") from None
    if isinstance(default, float):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"must be a number, got {value!r}") from None
    return value


def _validate(settings: Settings, problems: list[str]) -> None:
    for name in sorted(_POSITIVE_INTS):
        if getattr(settings, name) <= 0:
            problems.append(f"{_source_name(name)}: must be greater than 0")
    if not 0 <= settings.key_rotation_grace_s <= MAX_KEY_ROTATION_GRACE_S:
        problems.append(
            f"{_source_name('key_rotation_grace_s')}: from 0 (the replaced key stops at once) to "
            f"{MAX_KEY_ROTATION_GRACE_S} (30 days)"
        )
    if settings.segment_cache_ttl_s > MAX_SEGMENT_CACHE_TTL_S:
        problems.append(
            f"{_source_name('segment_cache_ttl_s')}: at most {MAX_SEGMENT_CACHE_TTL_S} "
            "(segment membership is never cached for more than 24 hours)"
        )
    for name in sorted(_URLS):
        value = getattr(settings, name)
        if (value or name != "public_url") and not re.match(r"^https?://[^/\s]+", value):
            problems.append(f"{_source_name(name)}: must be an http(s) URL")
    if settings.redis_url is not None and not re.match(r"^(rediss?|unix)://", settings.redis_url):
        problems.append("redis_url: must start with redis://, rediss:// or unix://")
    if settings.log_level not in {"debug", "info", "warning", "error"}:
        problems.append(f"{_source_name('log_level')}: one of debug, info, warning, error")
    if settings.log_format not in {"auto", "json", "text"}:
        problems.append(f"{_source_name('log_format')}: auto (text on a terminal, else JSON), json or text")
    if settings.assign_access_log not in {"summary", "every", "off"}:
        problems.append(f"{_source_name('assign_access_log')}: summary, every or off")
    if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", settings.country_header):
        problems.append(f"{_source_name('country_header')}: a header name such as CF-IPCountry")
    if settings.compatibility_date is not None and not re.fullmatch(
        r"\d{4}-\d{2}-\d{2}", settings.compatibility_date
    ):
        problems.append('compatibility_date: must be a quoted date like "2026-11-01"')
    if settings.database_url is not None and not re.match(r"^postgres(ql)?://", settings.database_url):
        # Never echo the value: it may hold a password.
        problems.append(f"{_source_name('database_url')}: must start with postgresql:// (or postgres://)")
    if settings.database_timeout_s <= 0:
        problems.append(f"{_source_name('database_timeout_s')}: must be greater than 0")
    if settings.events_lease_s < 1:
        problems.append(f"{_source_name('events_lease_s')}: at least 1 (seconds)")
    if settings.events_durable_wait_s < 0:
        problems.append(f"{_source_name('events_durable_wait_s')}: 0 (never wait) or more (seconds)")
    if settings.config_poll_interval_s <= 0:
        problems.append(f"{_source_name('config_poll_interval_s')}: must be greater than 0")
    if settings.redis_cluster and (settings.redis_url is None or settings.redis_url.startswith("unix://")):
        problems.append(
            f"{_source_name('redis_cluster')}: needs redis_url to be a redis:// or rediss:// seed node"
        )
    if settings.klaviyo_timeout_s <= 0:
        problems.append(f"{_source_name('klaviyo_timeout_s')}: must be greater than 0")


def _source_name(name: str) -> str:
    return f"{name} ({ENV_PREFIX}{name.upper()})"


def _mask(value: Any) -> Any:
    if not value:
        return None if value is None else value
    if isinstance(value, tuple):
        return tuple("**** (set)" for _ in value)
    return "**** (set)"


def masked_url(url: str) -> str:
    """The URL with its password hidden, in the authority or as a `password=` parameter."""
    url = re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:****@", url)
    return re.sub(r"(?i)(password=)[^&\s]*", r"\1****", url)
