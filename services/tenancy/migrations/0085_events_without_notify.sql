-- memberships_changed no longer sends NOTIFY usher_events: Postgres serialises every
-- notifying commit in the cluster through one lock held across its WAL flush
-- (bench/notify_cost.sh: 3.3x fewer commits/s from 8 clients, 2x from one). The daemon
-- that commits now wakes its own relay (common/wake.h); rows another process writes are
-- found by the relay's poll. The function is 0020's without the pg_notify, nothing else.
CREATE OR REPLACE FUNCTION memberships_changed() RETURNS trigger LANGUAGE plpgsql
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
    RETURN NULL;
END $$;
