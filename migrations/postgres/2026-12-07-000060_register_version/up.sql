-- A counter that moves whenever the register, or what an account may do, changes,
-- whoever changes it (this server, the CLI, another instance, another system writing
-- the register): each instance watches it to know when its register cache is stale.
CREATE TABLE register_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO register_version (id, version) VALUES (1, 0);

CREATE FUNCTION register_version_bump() RETURNS trigger AS $$
BEGIN
    UPDATE register_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- Once per statement: an import that corrects a million records bumps it once.
CREATE TRIGGER citizens_register_version
    AFTER UPDATE OR DELETE OR TRUNCATE ON citizens
    FOR EACH STATEMENT EXECUTE FUNCTION register_version_bump();
-- Only the columns that decide eligibility and assurance: a login's password rehash or
-- an enrolment's contact details are not the register's business.
CREATE TRIGGER accounts_register_version
    AFTER UPDATE OF status, assurance_level, national_id OR DELETE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION register_version_bump();
