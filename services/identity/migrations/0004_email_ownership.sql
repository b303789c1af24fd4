-- An address belongs to a user only once proven (issue 11, hole 5). A user whose address
-- was only claimed (unverified) loses it when someone proves it, or claims it anew: their
-- email becomes NULL and they can no longer sign in by it. Password resets by email.
ALTER TABLE users ALTER COLUMN email DROP NOT NULL;
ALTER TABLE users ADD COLUMN email_released_at timestamptz;
ALTER TABLE users ADD CONSTRAINT users_released_email_unverified
    CHECK (email IS NOT NULL OR NOT email_verified);

-- A reset link holds only while email is still the user's address. Only a keyed hash of
-- the token is stored.
CREATE TABLE password_resets (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      text NOT NULL,
    token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX password_resets_user_id ON password_resets (user_id);

-- Requests counted per subject (a keyed hash of an address asked for, or of a client
-- network) in a fixed window from the first: the reset throttle.
CREATE TABLE request_counters (
    subject      bytea PRIMARY KEY CHECK (octet_length(subject) = 32),
    requests     integer NOT NULL CHECK (requests > 0),
    window_start timestamptz NOT NULL
);
CREATE INDEX request_counters_window_start ON request_counters (window_start);
