-- Variables (links among them) are kept sealed with a key only usher-notificationd holds
-- (issue 11, hole 7). Rows queued before this are sealed by the daemon at start-up, which
-- then empties their plain variables.
ALTER TABLE messages ADD COLUMN sealed_variables bytea;
ALTER TABLE messages ADD CONSTRAINT messages_sealed_only_while_queued
    CHECK (state = 'queued' OR sealed_variables IS NULL);
