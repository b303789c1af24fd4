-- The outbox_taken trigger plans its INSERT at every call (0050), about 0.75 ms, and most
-- takes outside a batch hold no invitation email at all: an accept's or a decline's notice
-- to the inviter writes no event. A first look at the taken rows (a plain scan of the
-- transition table, whose plan is kept) skips the rest when none is an invitation sent.
CREATE OR REPLACE FUNCTION outbox_taken() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
DECLARE
    written bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM old_rows WHERE kind = 'invite') THEN
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
    GET DIAGNOSTICS written = ROW_COUNT;
    IF written > 0 THEN
        PERFORM pg_notify('usher_events', '');
    END IF;
    RETURN NULL;
END $$;
