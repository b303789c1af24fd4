-- Idempotency keys are scoped by who asked (the authenticated caller), for whom (the
-- actor, '' for none) and what (the method): the same key from another caller or person
-- is another request, never a replay of someone else's reply. Replies stored before this
-- could be replayed to anyone and some held permanent links' tokens: they are dropped (a
-- retry across the upgrade runs again, as after IDEMPOTENCY_RETENTION_HOURS).
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys
    DROP CONSTRAINT idempotency_keys_pkey,
    ADD COLUMN caller text NOT NULL CHECK (length(caller) BETWEEN 1 AND 300),
    ADD COLUMN actor text NOT NULL CHECK (length(actor) <= 200),
    ADD PRIMARY KEY (caller, actor, method, key);
