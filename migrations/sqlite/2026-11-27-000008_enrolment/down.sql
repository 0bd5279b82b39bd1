-- The audit trail is append-only: enrolment rows are kept, recorded as 'admin' rows
-- (their outcome still says 'enrolled'), so the old check holds.
CREATE TABLE audit_events_old (
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
INSERT INTO audit_events_old
    SELECT id, at, CASE kind WHEN 'enrolment' THEN 'admin' ELSE kind END,
           outcome, national_id, client_id, claims, request_id, detail
    FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_old RENAME TO audit_events;
CREATE INDEX audit_events_by_citizen ON audit_events (national_id, at);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

ALTER TABLE accounts DROP COLUMN email;
ALTER TABLE accounts DROP COLUMN phone;
