-- Self-enrolment: the contact a citizen gives when creating their account (one of
-- the two, or both), and an audit kind for enrolments.
ALTER TABLE accounts ADD COLUMN phone TEXT CHECK (phone IS NULL OR length(phone) <= 20);
ALTER TABLE accounts ADD COLUMN email TEXT CHECK (email IS NULL OR length(email) <= 254);

ALTER TABLE audit_events DROP CONSTRAINT audit_events_kind_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_kind_check
    CHECK (kind IN ('login', 'disclosure', 'admin', 'enrolment'));
