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
    Migration(
        "5: results: exposure and order cells per (experience, variation, audience, entry day), "
        "bots excluded, order ids seen, per-visitor totals of visitors who ordered, currencies, "
        "other conversion events, webhook secrets",
        sqlite=(
            """CREATE TABLE result_cells (
                site_id TEXT NOT NULL,
                experience_id TEXT NOT NULL,
                variation_id TEXT NOT NULL,
                audience TEXT NOT NULL,
                day BIGINT NOT NULL,
                visitors BIGINT NOT NULL DEFAULT 0,
                converters BIGINT NOT NULL DEFAULT 0,
                orders BIGINT NOT NULL DEFAULT 0,
                revenue REAL NOT NULL DEFAULT 0,
                revenue_sq REAL NOT NULL DEFAULT 0,
                orders_sq REAL NOT NULL DEFAULT 0,
                revenue_orders REAL NOT NULL DEFAULT 0,
                PRIMARY KEY (site_id, experience_id, variation_id, audience, day)
            )""",
            """CREATE TABLE result_bots (
                site_id TEXT NOT NULL,
                experience_id TEXT NOT NULL,
                day BIGINT NOT NULL,
                n BIGINT NOT NULL,
                PRIMARY KEY (site_id, experience_id, day)
            )""",
            """CREATE TABLE result_orders (
                site_id TEXT NOT NULL,
                order_id TEXT NOT NULL,
                created_at REAL NOT NULL,
                PRIMARY KEY (site_id, order_id)
            )""",
            """CREATE TABLE result_visitors (
                site_id TEXT NOT NULL,
                experience_id TEXT NOT NULL,
                visitor_id TEXT NOT NULL,
                variation_id TEXT NOT NULL,
                audience TEXT NOT NULL,
                day BIGINT NOT NULL,
                orders BIGINT NOT NULL,
                revenue REAL NOT NULL,
                PRIMARY KEY (site_id, experience_id, visitor_id)
            )""",
            """CREATE TABLE result_currencies (
                site_id TEXT NOT NULL,
                experience_id TEXT NOT NULL,
                currency TEXT NOT NULL,
                PRIMARY KEY (site_id, experience_id, currency)
            )""",
            """CREATE TABLE result_events (
                site_id TEXT NOT NULL,
                experience_id TEXT NOT NULL,
                variation_id TEXT NOT NULL,
                audience TEXT NOT NULL,
                day BIGINT NOT NULL,
                event TEXT NOT NULL,
                n BIGINT NOT NULL,
                PRIMARY KEY (site_id, experience_id, variation_id, audience, day, event)
            )""",
            """CREATE TABLE result_webhook_secrets (
                site_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                secret_enc TEXT NOT NULL,
                previous_enc TEXT,
                previous_until REAL,
                updated_at REAL NOT NULL,
                PRIMARY KEY (site_id, kind)
            ) WITHOUT ROWID""",
        ),
        postgres=(
            """CREATE TABLE result_cells (
                site_id TEXT NOT NULL,
                experience_id TEXT NOT NULL,
                variation_id TEXT NOT NULL,
                audience TEXT NOT NULL,
                day BIGINT NOT NULL,
                visitors BIGINT NOT NULL DEFAULT 0,
                converters BIGINT NOT NULL DEFAULT 0,
                orders BIGINT NOT NULL DEFAULT 0,
                revenue DOUBLE PRECISION NOT NULL DEFAULT 0,
                revenue_sq DOUBLE PRECISION NOT NULL DEFAULT 0,
                orders_sq DOUBLE PRECISION NOT NULL DEFAULT 0,
                revenue_orders DOUBLE PRECISION NOT NULL DEFAULT 0,
                PRIMARY KEY (site_id, experience_id, variation_id, audience, day)
            )""",
            """CREATE TABLE result_bots (
                site_id TEXT NOT NULL,
                experience_id TEXT NOT NULL,
                day BIGINT NOT NULL,
                n BIGINT NOT NULL,
                PRIMARY KEY (site_id, experience_id, day)
            )""",
            """CREATE TABLE result_orders (
                site_id TEXT NOT NULL,
                order_id TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (site_id, order_id)
            )""",
            """CREATE TABLE result_visitors (
                site_id TEXT NOT NULL,
                experience_id TEXT NOT NULL,
                visitor_id TEXT NOT NULL,
                variation_id TEXT NOT NULL,
                audience TEXT NOT NULL,
                day BIGINT NOT NULL,
                orders BIGINT NOT NULL,
                revenue DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (site_id, experience_id, visitor_id)
            )""",
            """CREATE TABLE result_currencies (
                site_id TEXT NOT NULL,
                experience_id TEXT NOT NULL,
                currency TEXT NOT NULL,
                PRIMARY KEY (site_id, experience_id, currency)
            )""",
            """CREATE TABLE result_events (
                site_id TEXT NOT NULL,
                experience_id TEXT NOT NULL,
                variation_id TEXT NOT NULL,
                audience TEXT NOT NULL,
                day BIGINT NOT NULL,
                event TEXT NOT NULL,
                n BIGINT NOT NULL,
                PRIMARY KEY (site_id, experience_id, variation_id, audience, day, event)
            )""",
            """CREATE TABLE result_webhook_secrets (
                site_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                secret_enc TEXT NOT NULL,
                previous_enc TEXT,
                previous_until DOUBLE PRECISION,
                updated_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (site_id, kind)
            )""",
        ),
    ),
    Migration(
        "6: PostgreSQL tells every node of a configuration change (LISTEN kx_config)",
        # SQLite is one machine's store: its workers see a change by the version check alone.
        sqlite=(),
        postgres=(
            # The payload stamps the change's time (the server's clock, seconds since the epoch),
            # from which each node measures the propagation lag. NOTIFY is sent on commit only.
            """CREATE FUNCTION kx_config_notify() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    PERFORM pg_notify('kx_config', json_build_object(
                        'site', OLD.id, 'version', NULL,
                        'at', extract(epoch FROM clock_timestamp()))::text);
                    RETURN OLD;
                END IF;
                PERFORM pg_notify('kx_config', json_build_object(
                    'site', NEW.id, 'version', NEW.config_version,
                    'at', extract(epoch FROM clock_timestamp()))::text);
                RETURN NEW;
            END
            $$""",
            """CREATE TRIGGER sites_config_notify
                AFTER INSERT OR DELETE OR UPDATE OF config_version ON sites
                FOR EACH ROW EXECUTE FUNCTION kx_config_notify()""",
        ),
    ),
    Migration(
        "7: api key rotation: the previous key's hash and until when it still opens the site",
        sqlite=(
            "ALTER TABLE sites ADD COLUMN previous_api_key_hash TEXT",
            "ALTER TABLE sites ADD COLUMN previous_key_valid_until INTEGER",
            "CREATE UNIQUE INDEX sites_by_previous_key ON sites(previous_api_key_hash)",
        ),
        postgres=(
            "ALTER TABLE sites ADD COLUMN previous_api_key_hash TEXT",
            "ALTER TABLE sites ADD COLUMN previous_key_valid_until BIGINT",
            "CREATE UNIQUE INDEX sites_by_previous_key ON sites(previous_api_key_hash)",
        ),
    ),
)
