-- Who holds an accept's claim: the database backend of the worker running it. A claim
-- whose backend is gone (the daemon died; a backend started after the claim is another
-- session reusing the pid) is taken over by the recovery loop at once; a live one is left
-- alone however slow it is.
ALTER TABLE invitations ADD COLUMN claim_pid integer;
