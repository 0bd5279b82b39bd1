DROP TRIGGER accounts_register_version ON accounts;
DROP TRIGGER citizens_register_version ON citizens;
DROP FUNCTION register_version_bump();
DROP TABLE register_version;
