DROP TABLE account_logouts;
DROP TABLE logout_deliveries;
