ALTER TABLE accounts DROP COLUMN email_verified_at;
ALTER TABLE accounts DROP COLUMN phone_verified_at;
DROP TABLE notifications;
