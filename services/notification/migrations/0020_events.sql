-- Events and webhooks (docs/events.md). The owning daemons' relays hand their events over
-- (RecordEvents); each is stored once (by id) and numbered: seq is the pull cursor. Events
-- are numbered under a lock held to the commit, so a reader that has seen seq N never
-- later finds an event below N.
CREATE TABLE events (
    seq         bigserial PRIMARY KEY,
    id          uuid NOT NULL UNIQUE,
    type        text NOT NULL,
    account_id  uuid NOT NULL,
    actor       text NOT NULL,
    object_type text NOT NULL,
    object_id   uuid NOT NULL,
    data        jsonb NOT NULL,
    occurred_at timestamptz NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_by_account ON events (account_id, seq);

-- Where events are posted. account_id NULL: every account's (a global endpoint). The
-- signing secrets are sealed with NOTIFICATION_SEAL_KEY; the previous one keeps signing
-- until previous_expires_at (rotation with overlap).
CREATE TABLE webhook_endpoints (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id          uuid,
    url                 text NOT NULL CHECK (octet_length(url) BETWEEN 1 AND 2048),
    description         text NOT NULL DEFAULT '',
    types               text[] NOT NULL DEFAULT '{}',
    sealed_secret       text NOT NULL,
    sealed_previous     text,
    previous_expires_at timestamptz,
    enabled             boolean NOT NULL DEFAULT true,
    disabled_reason     text NOT NULL DEFAULT '',
    failing_since       timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz
);
CREATE INDEX webhook_endpoints_by_account ON webhook_endpoints (account_id)
    WHERE deleted_at IS NULL;

-- One event to one endpoint, written in the same transaction as the event.
CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints (id),
    event_seq       bigint NOT NULL REFERENCES events (seq),
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'succeeded', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, event_seq),
    CHECK ((state = 'pending') = (next_attempt_at IS NOT NULL))
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at DESC);

CREATE TABLE webhook_attempts (
    delivery_id uuid NOT NULL REFERENCES webhook_deliveries ON DELETE CASCADE,
    number      integer NOT NULL,
    status_code integer NOT NULL,
    error       text NOT NULL DEFAULT '',
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (delivery_id, number)
);
