DROP TABLE known_devices;
DROP TABLE disabled_clients;
DROP TABLE officer_tokens;
DROP TABLE officer_roles;
