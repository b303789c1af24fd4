-- Ready to be sharded by account with Citus (docs/scaling.md): every tenant-owned table
-- carries account_id, and its primary key and unique indexes include it, so each row and
-- each uniqueness check lives on one shard. Keys keep their leading column (id, link_id,
-- token_hash): lookups by it stay indexed while the callers learn to pass the account too.
-- Tables that stay global are listed, with why, in tests/citus_keys_test.c.

-- The child tables of links name their account, filled from their link.
ALTER TABLE link_joins ADD COLUMN account_id uuid;
ALTER TABLE link_claims ADD COLUMN account_id uuid;
ALTER TABLE link_join_requests ADD COLUMN account_id uuid;
UPDATE link_joins j SET account_id = l.account_id FROM links l WHERE l.id = j.link_id;
UPDATE link_claims c SET account_id = l.account_id FROM links l WHERE l.id = c.link_id;
UPDATE link_join_requests r SET account_id = l.account_id FROM links l WHERE l.id = r.link_id;
ALTER TABLE link_joins ALTER COLUMN account_id SET NOT NULL;
ALTER TABLE link_claims ALTER COLUMN account_id SET NOT NULL;
ALTER TABLE link_join_requests ALTER COLUMN account_id SET NOT NULL;

-- So do outbox rows, filled from their invitation.
ALTER TABLE outbox ADD COLUMN account_id uuid;
UPDATE outbox o SET account_id = i.account_id FROM invitations i WHERE i.id = o.invitation_id;
ALTER TABLE outbox ALTER COLUMN account_id SET NOT NULL;

-- Foreign keys between tenant-owned tables name the account on both sides (in Citus, a
-- key between distributed tables must include the distribution column).
ALTER TABLE link_joins DROP CONSTRAINT link_joins_link_id_fkey;
ALTER TABLE link_claims DROP CONSTRAINT link_claims_link_id_fkey,
    DROP CONSTRAINT link_claims_join_request_id_fkey;
ALTER TABLE link_join_requests DROP CONSTRAINT link_join_requests_link_id_fkey;

ALTER TABLE batches DROP CONSTRAINT batches_pkey, ADD PRIMARY KEY (id, account_id);
ALTER TABLE invitations DROP CONSTRAINT invitations_pkey, ADD PRIMARY KEY (id, account_id),
    DROP CONSTRAINT invitations_token_hash_key;
ALTER TABLE outbox DROP CONSTRAINT outbox_pkey, ADD PRIMARY KEY (id, account_id);
ALTER TABLE links DROP CONSTRAINT links_pkey, ADD PRIMARY KEY (id, account_id),
    DROP CONSTRAINT links_token_hash_key;
ALTER TABLE link_join_requests DROP CONSTRAINT link_join_requests_pkey,
    ADD PRIMARY KEY (id, account_id),
    DROP CONSTRAINT link_join_requests_token_hash_key,
    ADD FOREIGN KEY (link_id, account_id) REFERENCES links (id, account_id);
ALTER TABLE link_joins DROP CONSTRAINT link_joins_pkey, ADD PRIMARY KEY (link_id, user_id, account_id),
    ADD FOREIGN KEY (link_id, account_id) REFERENCES links (id, account_id);
ALTER TABLE link_claims DROP CONSTRAINT link_claims_pkey, ADD PRIMARY KEY (link_id, email, account_id),
    ADD FOREIGN KEY (link_id, account_id) REFERENCES links (id, account_id),
    ADD FOREIGN KEY (join_request_id, account_id) REFERENCES link_join_requests (id, account_id);
ALTER TABLE events DROP CONSTRAINT events_pkey, ADD PRIMARY KEY (seq, account_id);

-- A token arrives without its account (the link in an email, a permanent link, a join
-- confirmation). Its keyed hash routes it: token_routes says which account holds it, and
-- the lookup then reads that account's rows only (one shard) by token_hash. The routes are
-- global (distributed by token_hash in Citus, not with the accounts) and written by the
-- triggers below, so every path that stores a token (a 50,000-row batch, a resend, COPY)
-- writes its route in the same transaction, once per statement for inserts. Their key is
-- what keeps a token hash unique now, across the three tables: the tables' own token
-- indexes are plain ones (a unique one would have to carry account_id, a wider index on
-- the batch path for nothing). Tokens keep their format: every token handed out before
-- this keeps working (routes backfilled here).
CREATE TABLE token_routes (
    token_hash bytea PRIMARY KEY,
    account_id uuid NOT NULL
);
INSERT INTO token_routes (token_hash, account_id)
    SELECT token_hash, account_id FROM invitations
    UNION ALL SELECT token_hash, account_id FROM links
    UNION ALL SELECT token_hash, account_id FROM link_join_requests;
CREATE INDEX invitations_token_hash ON invitations (token_hash);
CREATE INDEX links_token_hash ON links (token_hash);
CREATE INDEX link_join_requests_token_hash ON link_join_requests (token_hash);

CREATE FUNCTION token_routes_inserted() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO token_routes (token_hash, account_id) SELECT token_hash, account_id FROM new_rows;
    RETURN NULL;
END $$;

-- A resend gives the invitation a new token (the old route then leads nowhere).
CREATE FUNCTION token_route_changed() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO token_routes (token_hash, account_id) VALUES (NEW.token_hash, NEW.account_id);
    RETURN NULL;
END $$;

CREATE TRIGGER invitations_token_routes AFTER INSERT ON invitations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION token_routes_inserted();
CREATE TRIGGER links_token_routes AFTER INSERT ON links
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION token_routes_inserted();
CREATE TRIGGER link_join_requests_token_routes AFTER INSERT ON link_join_requests
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION token_routes_inserted();
CREATE TRIGGER invitations_token_route_changed AFTER UPDATE OF token_hash ON invitations
    FOR EACH ROW WHEN (OLD.token_hash IS DISTINCT FROM NEW.token_hash)
    EXECUTE FUNCTION token_route_changed();
