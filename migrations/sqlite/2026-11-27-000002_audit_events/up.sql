-- The audit trail: logins, releases of register data to relying parties, and
-- administrative changes. Append-only: triggers refuse updates and deletes.
CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TIMESTAMP NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('login', 'disclosure', 'admin')),
    outcome     TEXT NOT NULL,
    national_id TEXT,
    client_id   TEXT,
    claims      TEXT,
    request_id  TEXT,
    detail      TEXT
);
CREATE INDEX audit_events_by_citizen ON audit_events (national_id, at);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
