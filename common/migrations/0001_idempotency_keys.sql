-- One row per idempotency key of a mutating request: the request's hash, to refuse the
-- same key with another request, and the reply, to replay it on a resend.
CREATE TABLE idempotency_keys (
    key          text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 200),
    method       text NOT NULL,
    request_hash bytea NOT NULL,
    reply        bytea,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
