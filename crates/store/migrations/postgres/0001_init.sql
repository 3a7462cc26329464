-- The same tables as migrations/sqlite/0001_init.sql, in PostgreSQL types. Bodies are JSONB so
-- that SQL users can query them; the store reads them back as text.
CREATE TABLE alerts (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    rule_id      TEXT NOT NULL,
    title        TEXT NOT NULL,
    severity     SMALLINT NOT NULL,
    module       TEXT NOT NULL,
    event_time   BIGINT NOT NULL,
    detected_at  BIGINT NOT NULL,
    container_id TEXT,
    src_ip       TEXT,
    body         JSONB NOT NULL
);
CREATE INDEX alerts_detected_at ON alerts (detected_at);
CREATE INDEX alerts_rule_id ON alerts (rule_id);
CREATE INDEX alerts_host ON alerts (host);

CREATE TABLE actions (
    id         TEXT PRIMARY KEY,
    alert_id   TEXT,
    host       TEXT NOT NULL,
    module     TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    state      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    body       JSONB NOT NULL
);
CREATE INDEX actions_target ON actions (target);
CREATE INDEX actions_created_at ON actions (created_at);

CREATE TABLE findings (
    id          TEXT PRIMARY KEY,
    host        TEXT NOT NULL,
    advisory_id TEXT NOT NULL,
    package     TEXT NOT NULL,
    severity    SMALLINT NOT NULL,
    first_seen  BIGINT NOT NULL,
    body        JSONB NOT NULL
);

-- Checkpoints are per host: many daemons share one database.
CREATE TABLE checkpoints (
    host       TEXT NOT NULL,
    source     TEXT NOT NULL,
    device     BIGINT NOT NULL,
    inode      BIGINT NOT NULL,
    "offset"   BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (host, source)
);
