-- The audit store: every run, every event, and the exact source that ran.
--
-- Append-only. Rows are inserted and never changed: the triggers at the end abort any UPDATE or
-- DELETE, no code path issues one, and the hash chain over `events` exposes anyone who drops the
-- triggers and edits the file anyway. Never edit this file once released; add a new migration.

-- Runbook sources, stored once per content hash so `replay --source` shows the code that ran.
CREATE TABLE sources (
    sha256 TEXT PRIMARY KEY NOT NULL,        -- lowercase hex SHA-256 of the UTF-8 text
    text   TEXT NOT NULL
);

-- One row per run: an index for `runbook log`. The same facts are in the run's `run-start`
-- event, which is covered by the hash chain; `audit verify` checks that the two agree.
CREATE TABLE runs (
    id            TEXT PRIMARY KEY NOT NULL,  -- e.g. 20261121T051200Z-3f9a1c, sorts by start
    runbook       TEXT NOT NULL,
    source_sha256 TEXT NOT NULL REFERENCES sources (sha256),
    params        TEXT NOT NULL,              -- JSON object, redacted
    operator      TEXT NOT NULL,              -- JSON object: who ran it and how we know
    host          TEXT NOT NULL,
    dry_run       INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
    started_at    TEXT NOT NULL               -- RFC 3339, UTC, microseconds
);
CREATE INDEX runs_by_start ON runs (started_at);

-- One global hash chain, ordered by id. See src/audit/chain.rs for the exact encoding.
-- AUTOINCREMENT keeps ids from ever being reused, so sqlite_sequence remembers the highest id
-- ever written even if the newest rows are deleted.
CREATE TABLE events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    run       TEXT NOT NULL REFERENCES runs (id),
    seq       INTEGER NOT NULL,               -- 1, 2, 3, ... within the run
    time      TEXT NOT NULL,                  -- RFC 3339, UTC, microseconds
    kind      TEXT NOT NULL,
    step      TEXT,
    payload   TEXT NOT NULL,                  -- JSON, redacted, exactly the text that was hashed
    prev_hash TEXT NOT NULL,                  -- hash of the previous event, 64 zeros for the first
    hash      TEXT NOT NULL,
    UNIQUE (run, seq)
);
-- Finds how each run ended without reading its events: status is derived, never updated.
CREATE INDEX events_run_end ON events (run) WHERE kind IN ('run-end', 'interrupted');

CREATE TRIGGER sources_no_update BEFORE UPDATE ON sources
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
CREATE TRIGGER sources_no_delete BEFORE DELETE ON sources
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
CREATE TRIGGER runs_no_update BEFORE UPDATE ON runs
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
CREATE TRIGGER runs_no_delete BEFORE DELETE ON runs
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
