-- A batch writes up to 50,000 invitations and outbox rows in one statement. Foreign keys
-- check every inserted row with a query of their own (about half the batch's time);
-- both rows are always written together by the same statement, so the keys buy nothing
-- here and are dropped. Email addresses compare as bytes: they are stored normalised.
ALTER TABLE invitations DROP CONSTRAINT invitations_batch_id_fkey;
ALTER TABLE outbox DROP CONSTRAINT outbox_invitation_id_fkey;
ALTER TABLE invitations ALTER COLUMN email TYPE text COLLATE "C";
