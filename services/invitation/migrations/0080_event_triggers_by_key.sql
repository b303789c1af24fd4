-- The event triggers and the accept's claim find their rows by the whole key (the
-- update trigger is replaced whole by 0081).
--
-- Since 0040 the keys are (id, account_id); the triggers still joined invitations and
-- batches by id alone, and Postgres, planning for a transition table it guesses at ten
-- rows, took the index of the pending list (0070: account_id, created_at, id; state
-- pending) to find each invitation by id: a walk of the whole index per row. The relay's
-- take of 2,000 outbox rows of a 50,000-address batch spent 2.2 s in outbox_taken alone
-- (auto_explain), 25 times over. Each invitation is now looked up by its whole key, one
-- probe of the primary key: the lookup sits behind OFFSET 0 so that "state = 'pending'"
-- stays outside it, or Postgres would still take the partial index of pending rows (found
-- so on a table not yet analysed, even with account_id and id both given).
--
-- A token's index names its account too, and is unique: a claim (token_hash and the
-- routed account_id, both given) is then known to match one row, and Postgres stops
-- preferring the pending-by-email index (250 rows for an address invited to 250 accounts)
-- whenever the table's statistics are behind. token_routes still keeps a token unique
-- across accounts.
CREATE UNIQUE INDEX invitations_token_hash_account ON invitations (token_hash, account_id);
DROP INDEX invitations_token_hash;

CREATE OR REPLACE FUNCTION invitations_inserted() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
BEGIN
    EXECUTE $sql$
    INSERT INTO events (type, account_id, actor, object_type, object_id, data)
    SELECT 'invitation.created', n.account_id, event_actor(inviter_of(b)), 'invitation', n.id,
           invitation_json(n, b)
    FROM new_rows n JOIN batches b ON b.id = n.batch_id AND b.account_id = n.account_id
    ORDER BY n.created_at, n.id
    $sql$;
    PERFORM pg_notify('usher_events', '');
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION outbox_taken() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
DECLARE
    written bigint;
BEGIN
    EXECUTE $sql$
    INSERT INTO events (type, account_id, actor, object_type, object_id, data)
    SELECT 'invitation.sent', i.account_id, 'system', 'invitation', i.id,
           invitation_json(i, b) || jsonb_build_object('send_number', o.send_number)
    FROM old_rows o CROSS JOIN LATERAL (
        SELECT * FROM invitations i WHERE i.id = o.invitation_id AND i.account_id = o.account_id
        OFFSET 0) i
    JOIN batches b ON b.id = i.batch_id AND b.account_id = i.account_id
    WHERE o.kind = 'invite' AND i.state = 'pending' AND i.send_count = o.send_number
    ORDER BY o.id
    $sql$;
    GET DIAGNOSTICS written = ROW_COUNT;
    IF written > 0 THEN
        PERFORM pg_notify('usher_events', '');
    END IF;
    RETURN NULL;
END $$;
