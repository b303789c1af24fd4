-- The pending list in the order it is shown and paged (newest first, keyset on created_at
-- and id): page 500 reads what page 1 reads, and an account with many accepted or revoked
-- invitations walks none of them to find its pending ones.
CREATE INDEX invitations_pending_by_account ON invitations (account_id, created_at DESC, id DESC)
    WHERE state = 'pending';
