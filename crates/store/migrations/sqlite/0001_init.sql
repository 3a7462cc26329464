-- Alerts: one row per deterministic id; the full alert is kept as JSON in `body`.
CREATE TABLE alerts (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    rule_id      TEXT NOT NULL,
    title        TEXT NOT NULL,
    severity     INTEGER NOT NULL,
    module       TEXT NOT NULL,
    event_time   INTEGER NOT NULL,
    detected_at  INTEGER NOT NULL,
    container_id TEXT,
    src_ip       TEXT,
    body         TEXT NOT NULL
);
CREATE INDEX alerts_detected_at ON alerts (detected_at);
CREATE INDEX alerts_rule_id ON alerts (rule_id);

-- Response actions, updated in place as they move from planned to done, failed or released.
CREATE TABLE actions (
    id         TEXT PRIMARY KEY,
    alert_id   TEXT,
    host       TEXT NOT NULL,
    module     TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    state      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX actions_target ON actions (target);
CREATE INDEX actions_created_at ON actions (created_at);

-- Vulnerability findings, one row per (location, package, version, advisory).
CREATE TABLE findings (
    id          TEXT PRIMARY KEY,
    host        TEXT NOT NULL,
    advisory_id TEXT NOT NULL,
    package     TEXT NOT NULL,
    severity    INTEGER NOT NULL,
    first_seen  INTEGER NOT NULL,
    body        TEXT NOT NULL
);

-- How far each file source has read.
CREATE TABLE checkpoints (
    source     TEXT PRIMARY KEY,
    device     INTEGER NOT NULL,
    inode      INTEGER NOT NULL,
    offset     INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
