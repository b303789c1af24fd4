-- Permanent invitation links. Like invitation links, the token is stored as a keyed hash
-- for lookups; a sealed copy (encrypted with a key not in the database) lets admins see
-- the URL again.
CREATE TABLE links (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id            uuid NOT NULL,
    subaccount_id         uuid,
    account_name          text NOT NULL,
    created_by            uuid NOT NULL,
    token_hash            bytea NOT NULL UNIQUE,
    sealed_token          text NOT NULL,
    state                 text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'deleted')),
    expires_at            timestamptz,
    max_uses              integer NOT NULL DEFAULT 0 CHECK (max_uses >= 0),
    uses                  integer NOT NULL DEFAULT 0 CHECK (uses >= 0),
    allowed_email_domains text[] NOT NULL DEFAULT '{}',
    created_at            timestamptz NOT NULL DEFAULT now(),
    deleted_at            timestamptz
);
-- One active link per account and subaccount (the nil UUID stands for the organization).
CREATE UNIQUE INDEX links_one_active
    ON links (account_id, coalesce(subaccount_id, '00000000-0000-0000-0000-000000000000'))
    WHERE state = 'active';

-- Who joined through which link.
CREATE TABLE link_joins (
    link_id       uuid NOT NULL REFERENCES links (id),
    user_id       uuid NOT NULL,
    email         text NOT NULL,
    membership_id uuid NOT NULL,
    joined_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (link_id, user_id)
);
CREATE INDEX link_joins_by_time ON link_joins (joined_at DESC);
