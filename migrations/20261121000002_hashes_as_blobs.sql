-- Event hashes as 32-byte BLOBs instead of 64 characters of hex text.
--
-- The two hash columns were a third of every row, and a busy run's appends are bound by the
-- bytes they write. The hashes themselves do not change: the canonical encoding still hashes
-- the previous hash as 64 lowercase hex digits (src/audit/chain.rs), and export, replay and
-- verify still show hex. Existing chains are converted as they are and verify as before.
--
-- SQLite cannot change a column's type in place, so `events` is rebuilt: the old table is
-- renamed aside, its rows copied with their ids, and it is dropped (DROP TABLE fires no
-- triggers). Runs in the migration's transaction: all of it or none.

ALTER TABLE events RENAME TO events_v1;

CREATE TABLE events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    run       TEXT NOT NULL REFERENCES runs (id),
    seq       INTEGER NOT NULL,               -- 1, 2, 3, ... within the run
    time      TEXT NOT NULL,                  -- RFC 3339, UTC, microseconds
    kind      TEXT NOT NULL,
    step      TEXT,
    payload   TEXT NOT NULL,                  -- JSON, redacted, exactly the text that was hashed
    -- SHA-256 digests, 32 bytes; prev_hash is all zeros for the first event. No CHECK on
    -- their shape: `audit verify` names any event whose hash is not 32 bytes, and a tampered
    -- value copied from the old table is kept as the evidence it is.
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL,
    UNIQUE (run, seq)
);

-- Only what the store wrote (64 lowercase hex digits) is converted; anything else was put there
-- by hand and is copied unchanged, for `audit verify` to report as before.
INSERT INTO events (id, run, seq, time, kind, step, payload, prev_hash, hash)
SELECT id, run, seq, time, kind, step, payload,
       CASE WHEN length(prev_hash) = 64 AND prev_hash NOT GLOB '*[^0-9a-f]*'
            THEN unhex(prev_hash) ELSE prev_hash END,
       CASE WHEN length(hash) = 64 AND hash NOT GLOB '*[^0-9a-f]*'
            THEN unhex(hash) ELSE hash END
FROM events_v1 ORDER BY id;

-- Keep the highest id ever written (see the first migration): `audit verify` compares it with
-- the newest event to detect deleted tail events, so it must survive the copy even when it is
-- above every id that was copied.
INSERT INTO sqlite_sequence (name, seq)
SELECT 'events', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'events');
UPDATE sqlite_sequence
SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events_v1'), 0))
WHERE name = 'events';

-- Takes its triggers and indexes with it.
DROP TABLE events_v1;

CREATE INDEX events_run_end ON events (run) WHERE kind IN ('run-end', 'interrupted');

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
