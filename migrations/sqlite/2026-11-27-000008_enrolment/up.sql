-- Self-enrolment: the contact a citizen gives when creating their account (one of
-- the two, or both), and an audit kind for enrolments.
ALTER TABLE accounts ADD COLUMN phone TEXT CHECK (phone IS NULL OR length(phone) <= 20);
ALTER TABLE accounts ADD COLUMN email TEXT CHECK (email IS NULL OR length(email) <= 254);

-- SQLite cannot alter a CHECK constraint: the audit table is rebuilt with the new
-- kind, its rows copied, and its index and append-only triggers made again.
CREATE TABLE audit_events_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TIMESTAMP NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('login', 'disclosure', 'admin', 'enrolment')),
    outcome     TEXT NOT NULL,
    national_id TEXT,
    client_id   TEXT,
    claims      TEXT,
    request_id  TEXT,
    detail      TEXT
);
INSERT INTO audit_events_new SELECT id, at, kind, outcome, national_id, client_id, claims, request_id, detail FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_new RENAME TO audit_events;
CREATE INDEX audit_events_by_citizen ON audit_events (national_id, at);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
