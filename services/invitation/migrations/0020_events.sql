-- Events (docs/events.md): every invitation and link change writes an event row in the
-- same transaction as the change. Triggers write them, so no path that changes a row
-- (a 50,000-row batch, an accept resumed by recovery, an expiry) can forget one; the
-- invitation triggers are per statement, so a batch writes its events in one INSERT.
-- The event relay (common/event_relay.c) hands them in order to usher-notificationd and
-- deletes them once stored there. The trigger functions keep the search_path they were
-- made with: a change made by any session (an operator's psql) finds this schema's tables.
CREATE TABLE events (
    seq         bigserial PRIMARY KEY,
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    type        text NOT NULL,
    account_id  uuid NOT NULL,
    actor       text NOT NULL,
    object_type text NOT NULL,
    object_id   uuid NOT NULL,
    data        jsonb NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT now()
);

-- Who made the change: the transaction's usher.actor setting when a handler set it
-- ("user:<id>", "principal:<id>"), else what the row itself says.
CREATE FUNCTION event_actor(fallback text) RETURNS text
    LANGUAGE sql STABLE
    RETURN coalesce(nullif(current_setting('usher.actor', true), ''), fallback);

-- For changes no trigger sees (a reminder, say): one event, by the same rules.
CREATE FUNCTION record_event(p_type text, p_account uuid, p_actor text, p_object_type text,
                             p_object uuid, p_data jsonb) RETURNS void LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO events (type, account_id, actor, object_type, object_id, data)
    VALUES (p_type, p_account, p_actor, p_object_type, p_object, p_data);
    PERFORM pg_notify('usher_events', '');
END $$;

CREATE FUNCTION rfc3339(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE
    RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');

CREATE FUNCTION invitation_json(i invitations, b batches) RETURNS jsonb
    LANGUAGE sql STABLE
    RETURN jsonb_build_object(
        'id', i.id, 'account_id', i.account_id, 'email', i.email, 'state', i.state,
        'role', (ARRAY['member', 'moderator', 'admin', 'owner'])[b.role],
        'organization', b.organization, 'subaccount_ids', to_jsonb(b.subaccount_ids),
        'products', to_jsonb(b.products), 'flags', to_jsonb(b.flags),
        'invited_by', CASE WHEN b.invited_by IS NOT NULL THEN 'user:' || b.invited_by
                           ELSE 'principal:' || b.invited_by_principal END,
        'send_count', i.send_count, 'accepted_user_id', i.accepted_user_id,
        'revoke_reason', i.revoke_reason,
        'created_at', rfc3339(i.created_at), 'expires_at', rfc3339(i.expires_at),
        'decided_at', rfc3339(i.decided_at));

CREATE FUNCTION inviter_of(b batches) RETURNS text
    LANGUAGE sql IMMUTABLE
    RETURN CASE WHEN b.invited_by IS NOT NULL THEN 'user:' || b.invited_by
                ELSE 'principal:' || b.invited_by_principal END;

CREATE FUNCTION invitations_inserted() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO events (type, account_id, actor, object_type, object_id, data)
    SELECT 'invitation.created', n.account_id, event_actor(inviter_of(b)), 'invitation', n.id,
           invitation_json(n, b)
    FROM new_rows n JOIN batches b ON b.id = n.batch_id ORDER BY n.created_at, n.id;
    PERFORM pg_notify('usher_events', '');
    RETURN NULL;
END $$;

CREATE FUNCTION invitations_updated() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
BEGIN
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
    ORDER BY n.id, e.type = 'invitation.resent' DESC;
    IF FOUND THEN
        PERFORM pg_notify('usher_events', '');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER invitations_events_insert AFTER INSERT ON invitations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION invitations_inserted();
CREATE TRIGGER invitations_events_update AFTER UPDATE ON invitations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION invitations_updated();

-- invitation.sent: the invitation email was handed to usher-notificationd (the relay
-- takes its outbox row); not for a row that was no longer worth sending.
CREATE FUNCTION outbox_taken() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO events (type, account_id, actor, object_type, object_id, data)
    SELECT 'invitation.sent', i.account_id, 'system', 'invitation', i.id,
           invitation_json(i, b) || jsonb_build_object('send_number', o.send_number)
    FROM old_rows o JOIN invitations i ON i.id = o.invitation_id
    JOIN batches b ON b.id = i.batch_id
    WHERE o.kind = 'invite' AND i.state = 'pending' AND i.send_count = o.send_number
    ORDER BY o.id;
    IF FOUND THEN
        PERFORM pg_notify('usher_events', '');
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_events_delete AFTER DELETE ON outbox
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION outbox_taken();

CREATE FUNCTION link_json(l links) RETURNS jsonb
    LANGUAGE sql STABLE
    RETURN jsonb_build_object(
        'id', l.id, 'account_id', l.account_id, 'subaccount_id', l.subaccount_id,
        'state', l.state, 'created_by', 'user:' || l.created_by, 'max_uses', l.max_uses,
        'uses', l.uses, 'allowed_email_domains', to_jsonb(l.allowed_email_domains),
        'created_at', rfc3339(l.created_at), 'expires_at', rfc3339(l.expires_at),
        'deleted_at', rfc3339(l.deleted_at));

CREATE FUNCTION links_changed() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM record_event('link.enabled', NEW.account_id,
                             event_actor('user:' || NEW.created_by), 'link', NEW.id, link_json(NEW));
    ELSIF OLD.state = 'active' AND NEW.state = 'deleted' THEN
        PERFORM record_event('link.deleted', NEW.account_id, event_actor('system'), 'link',
                             NEW.id, link_json(NEW));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER links_events AFTER INSERT OR UPDATE OF state ON links
    FOR EACH ROW EXECUTE FUNCTION links_changed();

CREATE FUNCTION link_joined() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
DECLARE
    l links;
BEGIN
    SELECT * INTO l FROM links WHERE id = NEW.link_id;
    PERFORM record_event('link.joined', l.account_id, 'user:' || NEW.user_id, 'link', l.id,
                         link_json(l) || jsonb_build_object(
                             'user_id', NEW.user_id, 'email', NEW.email,
                             'membership_id', NEW.membership_id,
                             'joined_at', rfc3339(NEW.joined_at)));
    RETURN NULL;
END $$;
CREATE TRIGGER link_joins_events AFTER INSERT ON link_joins
    FOR EACH ROW EXECUTE FUNCTION link_joined();
