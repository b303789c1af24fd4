-- A retried accept or link join (its answer was lost in a crash) is answered as if it had
-- succeeded once. The claim keeps a keyed hash of the request (inv_request_hash: the token
-- and the profile or session), by which the same request is known again.
ALTER TABLE invitations ADD COLUMN accept_request_hash text;

-- Joining through a permanent link takes a use first, recorded here with the joiner's
-- address and request; the user and the membership follow (each keyed), and the join then
-- takes the claim's place. A crash in between leaves the claim to the request's retry or,
-- once its database session is gone, to the recovery loop, which finishes the join or
-- gives the use back. At most one join per link and address is in progress.
CREATE TABLE link_claims (
    link_id      uuid NOT NULL REFERENCES links (id),
    email        text COLLATE "C" NOT NULL,
    user_id      uuid,          -- the signed-in joiner; NULL for a new user
    use_number   integer NOT NULL,
    request_hash text NOT NULL,
    claim_pid    integer NOT NULL,
    claimed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (link_id, email)
);
CREATE INDEX link_claims_by_time ON link_claims (claimed_at);

-- What a finished join's retry is recognised and answered by.
ALTER TABLE link_joins ADD COLUMN use_number integer, ADD COLUMN request_hash text;
CREATE INDEX link_joins_by_email ON link_joins (link_id, email);
