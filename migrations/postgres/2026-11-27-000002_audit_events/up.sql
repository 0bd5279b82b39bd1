-- The audit trail: logins, releases of register data to relying parties, and
-- administrative changes. Append-only: a trigger refuses updates and deletes.
CREATE TABLE audit_events (
    id          BIGSERIAL PRIMARY KEY,
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

CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
