-- Whether the address is proven belongs on the user, not on the password: a code sent to
-- the inbox (or an OAuth provider) proves it for accounts that have no password at all.
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;
UPDATE users u SET email_verified_at = c.updated_at
FROM local_credentials c WHERE c.user_id = u.id AND c.email_verified;
