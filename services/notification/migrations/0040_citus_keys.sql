-- Ready to be sharded by account with Citus (docs/scaling.md): events and their webhook
-- deliveries and attempts carry the event's account, and their primary keys and unique
-- indexes include it, so an event, its deliveries and their attempts live on one shard.
-- Keys keep their leading column (seq, id): lookups by it stay indexed. webhook_endpoints
-- is a reference table (few rows, account_id NULL for a global endpoint), the email queue
-- is global: see tests/citus_keys_test.c for the list and why.
ALTER TABLE webhook_deliveries ADD COLUMN account_id uuid;
UPDATE webhook_deliveries d SET account_id = e.account_id FROM events e WHERE e.seq = d.event_seq;
ALTER TABLE webhook_deliveries ALTER COLUMN account_id SET NOT NULL;
ALTER TABLE webhook_attempts ADD COLUMN account_id uuid;
UPDATE webhook_attempts a SET account_id = d.account_id FROM webhook_deliveries d
    WHERE d.id = a.delivery_id;
ALTER TABLE webhook_attempts ALTER COLUMN account_id SET NOT NULL;

ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_delivery_id_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_event_seq_fkey;
ALTER TABLE events DROP CONSTRAINT events_pkey, ADD PRIMARY KEY (seq, account_id),
    DROP CONSTRAINT events_id_key, ADD UNIQUE (id, account_id);
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_pkey,
    ADD PRIMARY KEY (id, account_id),
    DROP CONSTRAINT webhook_deliveries_endpoint_id_event_seq_key,
    ADD UNIQUE (endpoint_id, event_seq, account_id),
    ADD FOREIGN KEY (event_seq, account_id) REFERENCES events (seq, account_id);
ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_pkey,
    ADD PRIMARY KEY (delivery_id, number, account_id),
    ADD FOREIGN KEY (delivery_id, account_id) REFERENCES webhook_deliveries (id, account_id)
        ON DELETE CASCADE;
