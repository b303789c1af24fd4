-- A batch: one request's account, inviter, role, scope, products and flags, shared by its
-- invitations. Names are kept as they were at invite time, for emails and previews.
CREATE TABLE batches (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id     uuid NOT NULL,
    account_name   text NOT NULL,
    invited_by     uuid NOT NULL,
    inviter_name   text NOT NULL,
    inviter_email  text NOT NULL,
    role           smallint NOT NULL CHECK (role BETWEEN 1 AND 4),
    organization   boolean NOT NULL,
    subaccount_ids uuid[] NOT NULL DEFAULT '{}',
    products       text[] NOT NULL DEFAULT '{}',
    flags          text[] NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- One invited address. Only a keyed BLAKE2b hash of the link's token is stored.
CREATE TABLE invitations (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    batch_id          uuid NOT NULL REFERENCES batches (id),
    account_id        uuid NOT NULL,
    email             text NOT NULL,
    token_hash        bytea NOT NULL UNIQUE,
    state             text NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'accepting', 'accepted', 'declined',
                                       'revoked', 'expired')),
    existing_user     boolean NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    last_sent_at      timestamptz NOT NULL DEFAULT now(),
    send_count        integer NOT NULL DEFAULT 1,
    accepted_user_id  uuid,
    accept_started_at timestamptz,
    decided_at        timestamptz,
    revoke_reason     text
);
-- At most one open invitation per account and address: the arbiter of already_pending.
CREATE UNIQUE INDEX invitations_open_per_email ON invitations (account_id, email)
    WHERE state IN ('pending', 'accepting');
CREATE INDEX invitations_by_account ON invitations (account_id, created_at DESC, id DESC);
CREATE INDEX invitations_pending_by_email ON invitations (email) WHERE state = 'pending';
CREATE INDEX invitations_accepting ON invitations (accept_started_at) WHERE state = 'accepting';

-- Emails to hand to usher-notificationd, written in the same transaction as the change.
-- kind: invite (to the invitee; the link's token sealed with a key not in the database),
-- accepted or declined (to the inviter).
CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('invite', 'accepted', 'declined')),
    invitation_id uuid NOT NULL REFERENCES invitations (id),
    send_number   integer NOT NULL,
    sealed_token  text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
