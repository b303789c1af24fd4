-- Service principals: internal services that call Usher as themselves, within a scope
-- (some accounts or all, some methods, the highest role they may invite at). Only public
-- keys are kept: the secret half never reaches Usher.
CREATE TABLE principals (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
    all_accounts boolean NOT NULL,
    account_ids  uuid[] NOT NULL DEFAULT '{}' CHECK (cardinality(account_ids) <= 100),
    methods      text[] NOT NULL CHECK (cardinality(methods) BETWEEN 1 AND 64),
    -- usher.v1.Role: 0 invites nobody, 1 member ... 4 owner.
    max_role     smallint NOT NULL CHECK (max_role BETWEEN 0 AND 4),
    created_by   text NOT NULL CHECK (octet_length(created_by) BETWEEN 1 AND 100),
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    CHECK (all_accounts = (cardinality(account_ids) = 0))
);

-- A principal's keys: several while one is being rotated out (expires_at set).
CREATE TABLE principal_keys (
    public_key   bytea PRIMARY KEY CHECK (octet_length(public_key) = 32),
    principal_id uuid NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX principal_keys_principal_id_idx ON principal_keys (principal_id);
