-- Service-delivered invitations, redirects, metadata, reminders and email language
-- (issue 14). A batch carries what its request asked for; redirect_url was checked
-- against the account's allow-list when it was asked.
ALTER TABLE batches
    ADD COLUMN send_email   boolean NOT NULL DEFAULT true,
    ADD COLUMN redirect_url text,
    ADD COLUMN metadata     jsonb,
    ADD COLUMN locale       text;

-- Reminders: how many since the last send, and a sealed copy of the link's token (a key not
-- in the database) for emailed invitations only, so a reminder can carry the same link. It
-- is wiped once the invitation is no longer pending or has had its reminders.
ALTER TABLE invitations
    ADD COLUMN reminders_sent   integer NOT NULL DEFAULT 0,
    ADD COLUMN last_reminded_at timestamptz,
    ADD COLUMN sealed_token     text;
CREATE INDEX invitations_remindable ON invitations (last_sent_at) WHERE sealed_token IS NOT NULL;
CREATE INDEX invitations_pending_expiry ON invitations (expires_at) WHERE state = 'pending';

ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox
    ADD CONSTRAINT outbox_kind_check
        CHECK (kind IN ('invite', 'accepted', 'declined', 'reminder', 'expired')),
    ADD COLUMN reminder_number integer;

-- Per-account delivery settings (SetInvitationSettings); an account without a row has the
-- defaults.
CREATE TABLE account_settings (
    account_id               uuid PRIMARY KEY,
    redirect_urls            text[] NOT NULL DEFAULT '{}',
    reminder_delay_hours     integer NOT NULL DEFAULT 72 CHECK (reminder_delay_hours BETWEEN 1 AND 720),
    reminders_off            boolean NOT NULL DEFAULT false,
    email_locale             text NOT NULL DEFAULT '',
    notify_inviter_on_expiry boolean NOT NULL DEFAULT false,
    updated_at               timestamptz NOT NULL DEFAULT now()
);
