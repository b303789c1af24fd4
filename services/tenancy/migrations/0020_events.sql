-- Events (docs/events.md): every membership change writes an event row in the same
-- transaction as the change. A trigger writes them, deferred to the commit so the event
-- carries the membership's final scope (its subaccounts are written by later statements).
-- The event relay (common/event_relay.c) hands them in order to usher-notificationd and
-- deletes them once stored there. The trigger function keeps the search_path it was made
-- with: a change made by any session (an operator's psql) finds this schema's tables.
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
-- ("user:<id>", "principal:<id>"), else "system".
CREATE FUNCTION event_actor(fallback text) RETURNS text
    LANGUAGE sql STABLE
    RETURN coalesce(nullif(current_setting('usher.actor', true), ''), fallback);

CREATE FUNCTION rfc3339(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE
    RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');

CREATE FUNCTION membership_json(m memberships) RETURNS jsonb
    LANGUAGE sql STABLE
    RETURN jsonb_build_object(
        'id', m.id, 'account_id', m.account_id, 'user_id', m.user_id, 'role', m.role,
        'organization', m.organization,
        'subaccount_ids', coalesce((SELECT jsonb_agg(s.subaccount_id ORDER BY s.subaccount_id)
                                    FROM membership_subaccounts s WHERE s.membership_id = m.id),
                                   '[]'::jsonb),
        'products', to_jsonb(m.products), 'flags', to_jsonb(m.flags), 'status', m.status,
        'source', m.source, 'created_at', rfc3339(m.created_at),
        'updated_at', rfc3339(m.updated_at));

CREATE FUNCTION memberships_changed() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
DECLARE
    kind text;
    m memberships;
BEGIN
    IF TG_OP = 'INSERT' THEN
        kind := 'membership.created';
        m := NEW;
    ELSIF TG_OP = 'DELETE' THEN
        kind := 'membership.removed';
        m := OLD;
    ELSIF NEW IS NOT DISTINCT FROM OLD THEN
        RETURN NULL;
    ELSIF NEW.status <> OLD.status THEN
        kind := CASE NEW.status WHEN 'deactivated' THEN 'membership.deactivated'
                                ELSE 'membership.reactivated' END;
        m := NEW;
    ELSIF NEW.role <> OLD.role THEN
        kind := 'membership.role_changed';
        m := NEW;
    ELSE
        kind := 'membership.scope_changed';
        m := NEW;
    END IF;
    INSERT INTO events (type, account_id, actor, object_type, object_id, data)
    VALUES (kind, m.account_id, event_actor('system'), 'membership', m.id,
            CASE WHEN TG_OP = 'UPDATE' AND NEW.role <> OLD.role
                 THEN membership_json(m) || jsonb_build_object('previous_role', OLD.role)
                 ELSE membership_json(m) END);
    PERFORM pg_notify('usher_events', '');
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER memberships_events AFTER INSERT OR UPDATE OR DELETE ON memberships
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION memberships_changed();
