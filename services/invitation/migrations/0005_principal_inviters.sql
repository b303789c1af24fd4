-- A batch is invited by a person (invited_by) or by a service principal acting as
-- itself (invited_by_principal), never both: what a principal does is recorded as its.
ALTER TABLE batches
    ALTER COLUMN invited_by DROP NOT NULL,
    ADD COLUMN invited_by_principal uuid,
    ADD CONSTRAINT batches_one_inviter CHECK ((invited_by IS NULL) <> (invited_by_principal IS NULL));
