-- Failed logins throttled per subject with backoff, replacing login_failures' fixed
-- lockout (issue 11, hole 14). A subject is a keyed hash of one of: an email and the
-- client's network together (the main counter: a stranger's failures elsewhere never
-- lock the owner out), a network alone (one client spraying many emails), an email alone
-- (many networks guessing one email; networks that signed in to it before are exempt).
DROP TABLE login_failures;

CREATE TABLE login_throttle (
    subject         bytea PRIMARY KEY CHECK (octet_length(subject) = 32),
    failures        integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    last_failure_at timestamptz,
    -- For an email-and-network subject: when that network last signed in to the email.
    last_success_at timestamptz
);
CREATE INDEX login_throttle_last_failure_at ON login_throttle (last_failure_at);
