-- People, their sessions, failed-login counters and pending email changes. Secrets are
-- never stored: passwords as argon2id strings, tokens as keyed BLAKE2b hashes.
CREATE TABLE users (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Stored normalised (trimmed, lowercase), so the unique index below compares
    -- addresses the way people mean them.
    email          text NOT NULL
                   CHECK (email = lower(btrim(email)) AND octet_length(email) BETWEEN 3 AND 254),
    email_verified boolean NOT NULL DEFAULT false,
    name           text NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 200),
    phone          text CHECK (phone ~ '^\+[1-9][0-9]{7,14}$'),
    password_hash  text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE sessions (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- Failed logins per subject, a keyed hash of a normalised email or of a client address
-- (so guesses at addresses without a user do not pile up readable addresses here),
-- counted in a fixed window that opens at the first failure.
CREATE TABLE login_failures (
    subject      bytea PRIMARY KEY CHECK (octet_length(subject) = 32),
    failures     integer NOT NULL CHECK (failures > 0),
    window_start timestamptz NOT NULL
);
CREATE INDEX login_failures_window_start ON login_failures (window_start);

CREATE TABLE email_changes (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    new_email  text NOT NULL
               CHECK (new_email = lower(btrim(new_email))
                      AND octet_length(new_email) BETWEEN 3 AND 254),
    token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX email_changes_user_id ON email_changes (user_id);
