DROP TABLE federated_clients;
DROP TABLE federation_subordinates;
DELETE FROM signing_keys WHERE purpose = 'federation';
DROP INDEX signing_keys_one_unretired_per_purpose_alg;
ALTER TABLE signing_keys DROP COLUMN purpose;
CREATE UNIQUE INDEX signing_keys_one_unretired_per_alg ON signing_keys (alg)
    WHERE retired_at IS NULL;
