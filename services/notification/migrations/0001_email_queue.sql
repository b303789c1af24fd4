-- The email queue. A message is queued until an attempt ends it: sent (the server said
-- 250), failed (a 5xx, or retried past the maximum age) or suppressed (its address is on
-- the suppression list). Its variables (links included) are kept only while it may
-- still be sent.
CREATE TABLE messages (
    id               uuid PRIMARY KEY,
    idempotency_key  text NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    template         text NOT NULL,
    recipient        text NOT NULL,
    reference        text NOT NULL DEFAULT '',
    subject          text NOT NULL,
    variables        jsonb,
    smtp_message_id  text NOT NULL,
    state            text NOT NULL CHECK (state IN ('queued', 'sent', 'failed', 'suppressed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    last_reply       text NOT NULL DEFAULT '',
    -- The database session of the worker delivering it; a claim whose session is gone
    -- (the daemon died) is stale and taken back.
    claim_pid        integer,
    claim_started    timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    CHECK ((state = 'queued') = (next_attempt_at IS NOT NULL)),
    CHECK (state = 'queued' OR variables IS NULL)
);

CREATE INDEX messages_due ON messages (next_attempt_at)
    WHERE state = 'queued' AND claim_pid IS NULL;
CREATE INDEX messages_claimed ON messages (claim_pid) WHERE claim_pid IS NOT NULL;
CREATE INDEX messages_reference ON messages (reference, created_at DESC) WHERE reference <> '';
CREATE INDEX messages_recipient ON messages (recipient, created_at DESC);

-- Every attempt and what the server (or the connection) answered.
CREATE TABLE attempts (
    message_id  uuid NOT NULL REFERENCES messages ON DELETE CASCADE,
    number      integer NOT NULL,
    reply       text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, number)
);

-- Addresses a server refused for good: not attempted again until taken off the list.
CREATE TABLE suppressions (
    email       text PRIMARY KEY,
    reason      text NOT NULL,
    message_id  uuid,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION rfc3339(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT
    RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
