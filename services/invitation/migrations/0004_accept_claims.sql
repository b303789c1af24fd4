-- Who holds an accept's claim: the database session of the worker running it. A claim
-- whose session is gone (the daemon died) is taken over by the recovery loop at once; a
-- live one is left alone however slow it is.
ALTER TABLE invitations ADD COLUMN claim_pid integer, ADD COLUMN claim_backend_start timestamptz;
