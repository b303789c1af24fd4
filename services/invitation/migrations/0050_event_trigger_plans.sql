-- The event triggers' statements are planned at each call (EXECUTE) instead of once per
-- session. PL/pgSQL keeps the plan of a static statement for the session's life, made with
-- the table sizes and transition-table row count of its first call: a relay whose first
-- chunk ran while the invitations table looked small kept scanning all of it for every
-- outbox row it took (2,000 rows x 50,000 invitations per chunk; a 50,000-address batch
-- took 100 s to reach notificationd instead of 4). Planned at each call, Postgres sees
-- how many rows the statement changed and how big the tables are now, and looks each
-- invitation up by its key. The statements and the events they write are unchanged.
--
-- rfc3339 and inviter_of are STABLE (what their bodies are: to_char and text || uuid
-- depend on settings): a function declared IMMUTABLE around a STABLE body is never
-- inlined, and a SQL function called instead of inlined costs more than the formatting
-- itself, twice a row for every invitation event.
ALTER FUNCTION rfc3339(timestamptz) STABLE;
ALTER FUNCTION inviter_of(batches) STABLE;

CREATE OR REPLACE FUNCTION invitations_inserted() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
BEGIN
    EXECUTE $sql$
    INSERT INTO events (type, account_id, actor, object_type, object_id, data)
    SELECT 'invitation.created', n.account_id, event_actor(inviter_of(b)), 'invitation', n.id,
           invitation_json(n, b)
    FROM new_rows n JOIN batches b ON b.id = n.batch_id ORDER BY n.created_at, n.id
    $sql$;
    PERFORM pg_notify('usher_events', '');
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION invitations_updated() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
DECLARE
    written bigint;
BEGIN
    EXECUTE $sql$
    INSERT INTO events (type, account_id, actor, object_type, object_id, data)
    SELECT e.type, n.account_id,
           CASE e.type
               WHEN 'invitation.accepted' THEN 'user:' || n.accepted_user_id
               WHEN 'invitation.declined' THEN 'invitee'
               WHEN 'invitation.resent' THEN event_actor(inviter_of(b))
               ELSE event_actor('system') END,
           'invitation', n.id, invitation_json(n, b)
    FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN batches b ON b.id = n.batch_id
    CROSS JOIN LATERAL (VALUES
        (CASE WHEN n.send_count > o.send_count THEN 'invitation.resent' END),
        (CASE WHEN n.state <> o.state AND n.state IN ('accepted', 'declined', 'revoked', 'expired')
              THEN 'invitation.' || n.state END)) AS e (type)
    WHERE e.type IS NOT NULL
    ORDER BY n.id, e.type = 'invitation.resent' DESC
    $sql$;
    GET DIAGNOSTICS written = ROW_COUNT;
    IF written > 0 THEN
        PERFORM pg_notify('usher_events', '');
    END IF;
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
    FROM old_rows o JOIN invitations i ON i.id = o.invitation_id
    JOIN batches b ON b.id = i.batch_id
    WHERE o.kind = 'invite' AND i.state = 'pending' AND i.send_count = o.send_number
    ORDER BY o.id
    $sql$;
    GET DIAGNOSTICS written = ROW_COUNT;
    IF written > 0 THEN
        PERFORM pg_notify('usher_events', '');
    END IF;
    RETURN NULL;
END $$;
