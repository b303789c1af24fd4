-- Accounts, their products and subaccounts, and memberships: who belongs to which
-- account, with what role, over which subaccounts. User ids come from identityd and are
-- not foreign keys: no schema references another.
CREATE TABLE accounts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 200),
    primary_owner_id uuid NOT NULL,
    invitation_expiry_hours integer NOT NULL CHECK (invitation_expiry_hours BETWEEN 1 AND 720),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    allowed_email_domains text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE account_products (
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    product text NOT NULL CHECK (product ~ '^[a-z0-9_.-]{1,40}$'),
    PRIMARY KEY (account_id, product)
);

CREATE TABLE subaccounts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- The target of membership_subaccounts' key, which keeps a scope inside its account.
    CONSTRAINT subaccounts_account_id_id_key UNIQUE (account_id, id),
    CONSTRAINT subaccounts_account_id_name_key UNIQUE (account_id, name)
);

CREATE TABLE memberships (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id uuid NOT NULL,
    role text NOT NULL CHECK (role IN ('member', 'moderator', 'admin', 'owner')),
    -- true: every current and future subaccount; false: those in membership_subaccounts.
    organization boolean NOT NULL,
    products text[] NOT NULL DEFAULT '{}',
    flags text[] NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deactivated')),
    source text NOT NULL CHECK (octet_length(source) BETWEEN 1 AND 100),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT memberships_account_id_user_id_key UNIQUE (account_id, user_id),
    CONSTRAINT memberships_owner_is_organization CHECK (role <> 'owner' OR organization)
);
-- ListMyMemberships; and ListMembers' keyset order.
CREATE INDEX memberships_user_id_idx ON memberships (user_id);
CREATE INDEX memberships_page_idx ON memberships (account_id, created_at, id);

CREATE TABLE membership_subaccounts (
    membership_id uuid NOT NULL REFERENCES memberships (id) ON DELETE CASCADE,
    account_id uuid NOT NULL,
    subaccount_id uuid NOT NULL,
    PRIMARY KEY (membership_id, subaccount_id),
    FOREIGN KEY (account_id, subaccount_id) REFERENCES subaccounts (account_id, id)
        ON DELETE CASCADE
);
CREATE INDEX membership_subaccounts_subaccount_id_idx ON membership_subaccounts (subaccount_id);
