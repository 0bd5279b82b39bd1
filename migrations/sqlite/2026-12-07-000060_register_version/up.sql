-- A counter that moves whenever the register, or what an account may do, changes,
-- whoever changes it (this server, the CLI, another process writing the file): each
-- instance watches it to know when its register cache is stale. SQLite has only row
-- triggers: an import that corrects many records bumps it once per record, inside the
-- import's own transaction.
CREATE TABLE register_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO register_version (id, version) VALUES (1, 0);

CREATE TRIGGER citizens_updated_register_version AFTER UPDATE ON citizens
BEGIN
    UPDATE register_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER citizens_deleted_register_version AFTER DELETE ON citizens
BEGIN
    UPDATE register_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER accounts_updated_register_version
    AFTER UPDATE OF status, assurance_level, national_id ON accounts
BEGIN
    UPDATE register_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER accounts_deleted_register_version AFTER DELETE ON accounts
BEGIN
    UPDATE register_version SET version = version + 1 WHERE id = 1;
END;
