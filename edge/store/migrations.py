"""Versioned schema migrations, each written for both backends side by side.

Migration N moves the schema from version N-1 to N on SQLite (`sqlite`, version in
`PRAGMA user_version`) and on PostgreSQL (`postgres`, version in the table `kx_schema_version`).
Each runs in its own transaction, so a start-up that dies halfway leaves a clean version; the
backends make sure it runs once however many processes start together (SQLite: `BEGIN
IMMEDIATE`; PostgreSQL: a transaction-level advisory lock). Never edit a released migration:
append a new one, with both dialects. `tests/edge/store/test_migrations.py` checks that both
dialects end with the same tables and columns.

The dialects differ only where the databases do: PostgreSQL types are explicit (BIGINT for
times and counters, DOUBLE PRECISION for fractional seconds, identity columns for SQLite's
AUTOINCREMENT), and its `sites` and `experiences` carry a `rowid` identity column so the stores'
`ORDER BY created_at, rowid` (SQLite's implicit insertion order) reads the same on both.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "1: sites and experiences",
        sqlite=(
            """CREATE TABLE sites (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                public_key TEXT NOT NULL UNIQUE,
                api_key_hash TEXT NOT NULL UNIQUE,
                signing_secret_enc TEXT NOT NULL,
                allowed_origins TEXT NOT NULL,
                config_version INTEGER NOT NULL DEFAULT 1,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            )""",
            """CREATE TABLE experiences (
                site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
                id TEXT NOT NULL,
                type TEXT NOT NULL,
                status TEXT NOT NULL,
                body TEXT NOT NULL,
                version INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                PRIMARY KEY (site_id, id)
            )""",
            "CREATE INDEX experiences_by_status ON experiences(site_id, status)",
        ),
        postgres=(
            """CREATE TABLE sites (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                public_key TEXT NOT NULL UNIQUE,
                api_key_hash TEXT NOT NULL UNIQUE,
                signing_secret_enc TEXT NOT NULL,
                allowed_origins TEXT NOT NULL,
                config_version BIGINT NOT NULL DEFAULT 1,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                rowid BIGINT GENERATED ALWAYS AS IDENTITY
            )""",
            """CREATE TABLE experiences (
                site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
                id TEXT NOT NULL,
                type TEXT NOT NULL,
                status TEXT NOT NULL,
                body TEXT NOT NULL,
                version BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                rowid BIGINT GENERATED ALWAYS AS IDENTITY,
                PRIMARY KEY (site_id, id)
            )""",
            "CREATE INDEX experiences_by_status ON experiences(site_id, status)",
        ),
    ),
    Migration(
        "2: Klaviyo connections (tokens arrive encrypted) and pending OAuth flows",
        sqlite=(
            """CREATE TABLE klaviyo_connections (
                site_id TEXT PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,
                generation INTEGER NOT NULL,
                status TEXT NOT NULL,
                record TEXT NOT NULL,
                updated_at INTEGER NOT NULL
            )""",
            """CREATE TABLE oauth_flows (
                state_hash TEXT PRIMARY KEY,
                site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
                record TEXT NOT NULL,
                expires_at INTEGER NOT NULL
            )""",
            "CREATE INDEX oauth_flows_by_expiry ON oauth_flows(expires_at)",
        ),
        postgres=(
            """CREATE TABLE klaviyo_connections (
                site_id TEXT PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,
                generation BIGINT NOT NULL,
                status TEXT NOT NULL,
                record TEXT NOT NULL,
                updated_at BIGINT NOT NULL
            )""",
            """CREATE TABLE oauth_flows (
                state_hash TEXT PRIMARY KEY,
                site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
                record TEXT NOT NULL,
                expires_at BIGINT NOT NULL
            )""",
            "CREATE INDEX oauth_flows_by_expiry ON oauth_flows(expires_at)",
        ),
    ),
    Migration(
        "3: event triggers (edge/events): switches per site, the outbox, dedupe keys, counters",
        sqlite=(
            """CREATE TABLE event_triggers (
                site_id TEXT PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,
                entered_test INTEGER NOT NULL DEFAULT 0,
                saw_personalization INTEGER NOT NULL DEFAULT 0,
                profile_sync INTEGER NOT NULL DEFAULT 0,
                updated_at INTEGER NOT NULL
            )""",
            """CREATE TABLE event_outbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                site_id TEXT NOT NULL,
                trigger TEXT NOT NULL,
                unique_id TEXT NOT NULL,
                body TEXT NOT NULL,
                profile TEXT NOT NULL,
                created_at REAL NOT NULL,
                state TEXT NOT NULL DEFAULT 'pending',
                attempts INTEGER NOT NULL DEFAULT 0,
                available_at REAL NOT NULL DEFAULT 0,
                last_error TEXT
            )""",
            "CREATE INDEX event_outbox_due ON event_outbox(state, available_at, id)",
            """CREATE TABLE event_pending (
                site_id TEXT NOT NULL,
                trigger TEXT NOT NULL,
                n INTEGER NOT NULL,
                PRIMARY KEY (site_id, trigger)
            ) WITHOUT ROWID""",
            """CREATE TABLE event_dedupe (
                day INTEGER NOT NULL,
                unique_id TEXT NOT NULL,
                PRIMARY KEY (day, unique_id)
            ) WITHOUT ROWID""",
            """CREATE TABLE event_profile_state (
                site_id TEXT NOT NULL,
                kx_hash TEXT NOT NULL,
                experiences_hash TEXT NOT NULL,
                updated_at REAL NOT NULL,
                PRIMARY KEY (site_id, kx_hash)
            ) WITHOUT ROWID""",
            """CREATE TABLE event_counts (
                site_id TEXT NOT NULL,
                trigger TEXT NOT NULL,
                hour INTEGER NOT NULL,
                outcome TEXT NOT NULL,
                n INTEGER NOT NULL,
                PRIMARY KEY (site_id, trigger, hour, outcome)
            ) WITHOUT ROWID""",
            """CREATE TABLE event_trigger_state (
                site_id TEXT NOT NULL,
                trigger TEXT NOT NULL,
                last_sent_at REAL,
                last_error TEXT,
                last_error_at REAL,
                PRIMARY KEY (site_id, trigger)
            ) WITHOUT ROWID""",
        ),
        postgres=(
            """CREATE TABLE event_triggers (
                site_id TEXT PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,
                entered_test INTEGER NOT NULL DEFAULT 0,
                saw_personalization INTEGER NOT NULL DEFAULT 0,
                profile_sync INTEGER NOT NULL DEFAULT 0,
                updated_at BIGINT NOT NULL
            )""",
            """CREATE TABLE event_outbox (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                site_id TEXT NOT NULL,
                trigger TEXT NOT NULL,
                unique_id TEXT NOT NULL,
                body TEXT NOT NULL,
                profile TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                state TEXT NOT NULL DEFAULT 'pending',
                attempts INTEGER NOT NULL DEFAULT 0,
                available_at DOUBLE PRECISION NOT NULL DEFAULT 0,
                last_error TEXT
            )""",
            "CREATE INDEX event_outbox_due ON event_outbox(state, available_at, id)",
            """CREATE TABLE event_pending (
                site_id TEXT NOT NULL,
                trigger TEXT NOT NULL,
                n BIGINT NOT NULL,
                PRIMARY KEY (site_id, trigger)
            )""",
            """CREATE TABLE event_dedupe (
                day BIGINT NOT NULL,
                unique_id TEXT NOT NULL,
                PRIMARY KEY (day, unique_id)
            )""",
            """CREATE TABLE event_profile_state (
                site_id TEXT NOT NULL,
                kx_hash TEXT NOT NULL,
                experiences_hash TEXT NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (site_id, kx_hash)
            )""",
            """CREATE TABLE event_counts (
                site_id TEXT NOT NULL,
                trigger TEXT NOT NULL,
                hour BIGINT NOT NULL,
                outcome TEXT NOT NULL,
                n BIGINT NOT NULL,
                PRIMARY KEY (site_id, trigger, hour, outcome)
            )""",
            """CREATE TABLE event_trigger_state (
                site_id TEXT NOT NULL,
                trigger TEXT NOT NULL,
                last_sent_at DOUBLE PRECISION,
                last_error TEXT,
                last_error_at DOUBLE PRECISION,
                PRIMARY KEY (site_id, trigger)
            )""",
        ),
    ),
    Migration(
        "4: merchant page sessions (edge/admin): the session id is stored hashed, one site each",
        sqlite=(
            """CREATE TABLE admin_sessions (
                id_hash TEXT PRIMARY KEY,
                site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
                csrf_token TEXT NOT NULL,
                created_at REAL NOT NULL,
                last_seen_at REAL NOT NULL
            ) WITHOUT ROWID""",
            "CREATE INDEX admin_sessions_by_last_seen ON admin_sessions(last_seen_at)",
        ),
        postgres=(
            """CREATE TABLE admin_sessions (
                id_hash TEXT PRIMARY KEY,
                site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
                csrf_token TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                last_seen_at DOUBLE PRECISION NOT NULL
            )""",
            "CREATE INDEX admin_sessions_by_last_seen ON admin_sessions(last_seen_at)",
        ),
    ),
)
