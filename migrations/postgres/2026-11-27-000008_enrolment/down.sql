-- The audit trail is append-only, so enrolment rows stay; the old check is restored
-- for new rows only (NOT VALID skips the rows already there).
ALTER TABLE audit_events DROP CONSTRAINT audit_events_kind_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_kind_check
    CHECK (kind IN ('login', 'disclosure', 'admin')) NOT VALID;

ALTER TABLE accounts DROP COLUMN email;
ALTER TABLE accounts DROP COLUMN phone;
