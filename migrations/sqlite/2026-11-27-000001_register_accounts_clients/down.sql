DROP TABLE clients;
DROP TABLE accounts;
DROP TABLE citizens;
