"""Versioned schema migrations for the SQLite store.

Each entry moves the schema from version N-1 to N (tracked in `PRAGMA user_version`) and runs in
its own transaction, so a start-up that dies halfway leaves the file at a clean version. Never
edit a released migration: append a new one.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: sites and experiences
    (
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
    # 2: Klaviyo connections (tokens arrive encrypted) and pending OAuth flows
    (
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
    # 3: event triggers (edge/events): switches per site, the outbox, dedupe keys, counters
    (
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
    # 4: merchant page sessions (edge/admin): the session id is stored hashed, one site each
    (
        """CREATE TABLE admin_sessions (
            id_hash TEXT PRIMARY KEY,
            site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
            csrf_token TEXT NOT NULL,
            created_at REAL NOT NULL,
            last_seen_at REAL NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX admin_sessions_by_last_seen ON admin_sessions(last_seen_at)",
    ),
)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every migration the file has not seen; return the resulting version.

    `BEGIN IMMEDIATE` takes the write lock first, so two processes starting together cannot
    both apply the same migration: the second waits, re-reads the version and skips it.
    """
    target = len(MIGRATIONS)
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = schema_version(conn)
            if current > target:
                raise RuntimeError(
                    f"the database schema is version {current}, newer than this kx-edge ({target})"
                )
            if current == target:
                conn.execute("COMMIT")
                return current
            for statement in MIGRATIONS[current]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {current + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
