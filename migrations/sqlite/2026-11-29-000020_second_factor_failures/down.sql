DROP TABLE second_factor_failures;
