-- The invitation.created and invitation.sent triggers plan their INSERT at every call
-- (EXECUTE, 0050), so that a batch's thousands of rows never run on a plan made for one.
-- For one invitation that planning was most of the insert: 0.31 ms against 0.09 ms with a
-- kept plan (one-row inserts into a scratch copy of this schema, 300 each). A few rows now
-- take a plan kept for the session (made for a few rows); more still plan afresh.
-- Each function is otherwise its latest definition (0085).
CREATE OR REPLACE FUNCTION invitations_inserted() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
BEGIN
    IF (SELECT count(*) FROM new_rows) <= 16 THEN
        INSERT INTO events (type, account_id, actor, object_type, object_id, data)
        SELECT 'invitation.created', n.account_id, event_actor(inviter_of(b)), 'invitation', n.id,
               invitation_json(n, b)
        FROM new_rows n JOIN batches b ON b.id = n.batch_id AND b.account_id = n.account_id
        ORDER BY n.created_at, n.id;
        RETURN NULL;
    END IF;
    EXECUTE $sql$
    INSERT INTO events (type, account_id, actor, object_type, object_id, data)
    SELECT 'invitation.created', n.account_id, event_actor(inviter_of(b)), 'invitation', n.id,
           invitation_json(n, b)
    FROM new_rows n JOIN batches b ON b.id = n.batch_id AND b.account_id = n.account_id
    ORDER BY n.created_at, n.id
    $sql$;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION outbox_taken() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
DECLARE
    invites bigint;
BEGIN
    SELECT count(*) INTO invites FROM old_rows WHERE kind = 'invite';
    IF invites = 0 THEN
        RETURN NULL;
    END IF;
    IF invites <= 16 THEN
        INSERT INTO events (type, account_id, actor, object_type, object_id, data)
        SELECT 'invitation.sent', i.account_id, 'system', 'invitation', i.id,
               invitation_json(i, b) || jsonb_build_object('send_number', o.send_number)
        FROM old_rows o CROSS JOIN LATERAL (
            SELECT * FROM invitations i WHERE i.id = o.invitation_id AND i.account_id = o.account_id
            OFFSET 0) i
        JOIN batches b ON b.id = i.batch_id AND b.account_id = i.account_id
        WHERE o.kind = 'invite' AND i.state = 'pending' AND i.send_count = o.send_number
        ORDER BY o.id;
        RETURN NULL;
    END IF;
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
    RETURN NULL;
END $$;
