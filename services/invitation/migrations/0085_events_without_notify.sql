-- The event functions no longer send NOTIFY usher_events: Postgres serialises every
-- notifying commit in the cluster through one lock held across its WAL flush
-- (bench/notify_cost.sh: 3.3x fewer commits/s from 8 clients, 2x from one), and every
-- daemon's relay woke on every event of every schema. The daemon that commits now wakes
-- its own relays (common/wake.h); rows another process writes are found by the relays'
-- poll. Each function is its latest definition (record_event 0020, invitations_inserted
-- 0080, invitation_updated 0081, outbox_taken 0082) without the pg_notify, nothing else.
CREATE OR REPLACE FUNCTION record_event(p_type text, p_account uuid, p_actor text,
                                        p_object_type text, p_object uuid, p_data jsonb)
    RETURNS void LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO events (type, account_id, actor, object_type, object_id, data)
    VALUES (p_type, p_account, p_actor, p_object_type, p_object, p_data);
END $$;

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
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION invitation_updated() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
DECLARE
    b batches;
BEGIN
    SELECT * INTO b FROM batches WHERE id = NEW.batch_id AND account_id = NEW.account_id;
    IF NEW.send_count > OLD.send_count THEN
        INSERT INTO events (type, account_id, actor, object_type, object_id, data)
        VALUES ('invitation.resent', NEW.account_id, event_actor(inviter_of(b)), 'invitation',
                NEW.id, invitation_json(NEW, b));
    END IF;
    IF NEW.state <> OLD.state AND NEW.state IN ('accepted', 'declined', 'revoked', 'expired') THEN
        INSERT INTO events (type, account_id, actor, object_type, object_id, data)
        VALUES ('invitation.' || NEW.state, NEW.account_id,
                CASE NEW.state
                    WHEN 'accepted' THEN 'user:' || NEW.accepted_user_id
                    WHEN 'declined' THEN 'invitee'
                    ELSE event_actor('system') END,
                'invitation', NEW.id, invitation_json(NEW, b));
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION outbox_taken() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
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
    RETURN NULL;
END $$;
