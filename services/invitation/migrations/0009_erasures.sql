-- DeleteUser sagas (erasure.c): one per erased user. The email and name are kept only
-- while the saga runs (the later steps need them after identityd has forgotten them) and
-- cleared when it is done; the row then records that the user was erased and under which
-- pseudonym the audit log names them. A saga whose claiming session is gone (the daemon
-- died) is resumed by the recovery loop, as accepts are.
CREATE TABLE erasures (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL UNIQUE,
    email        text,
    name         text,
    pseudonym_id uuid NOT NULL DEFAULT gen_random_uuid(),
    state        text NOT NULL DEFAULT 'erasing' CHECK (state IN ('erasing', 'done')),
    claim_pid    integer,
    claimed_at   timestamptz NOT NULL DEFAULT now(),
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    CHECK (state = 'erasing' OR (email IS NULL AND name IS NULL AND finished_at IS NOT NULL))
);
CREATE INDEX erasures_erasing ON erasures (claimed_at) WHERE state = 'erasing';
