-- The audit log (docs/audit.md): one row per change a person, a service principal or an
-- operator made, written in the same transaction as the change, so a change and its
-- record stand or fall together. A removal deletes the membership but not its record.
-- Rows name ids; subject_email (an invitation's address) is the one personal field
-- besides them, and erasing a user (DeleteUser) replaces both with a pseudonym.
-- Times are kept to the millisecond, the precision of replies, so that lists merged
-- across the daemons order ties the same way each daemon does (by id).
CREATE TABLE audit_log (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id         uuid,
    actor_user_id      uuid,
    actor_principal_id uuid,
    actor_caller       text NOT NULL CHECK (octet_length(actor_caller) BETWEEN 1 AND 300),
    action             text NOT NULL CHECK (action ~ '^[a-z_]+(\.[a-z_]+)+$'),
    subject_type       text NOT NULL
                       CHECK (subject_type IN ('user', 'invitation', 'link', 'account', 'principal')),
    subject_id         uuid,
    subject_email      text CHECK (octet_length(subject_email) <= 254),
    detail             text NOT NULL DEFAULT '' CHECK (octet_length(detail) <= 2000),
    created_at         timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp())
);
CREATE INDEX audit_log_by_account ON audit_log (account_id, created_at DESC, id DESC);
CREATE INDEX audit_log_created_at ON audit_log (created_at);
CREATE INDEX audit_log_by_actor ON audit_log (actor_user_id) WHERE actor_user_id IS NOT NULL;
CREATE INDEX audit_log_by_subject ON audit_log (subject_id) WHERE subject_id IS NOT NULL;
