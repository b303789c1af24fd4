-- A retried accept or link join (its answer was lost in a crash) is answered as if it had
-- succeeded once. The claim keeps a keyed hash of the request (inv_request_hash: the token
-- and the profile or session), by which the same request is known again.
ALTER TABLE invitations ADD COLUMN accept_request_hash text;

-- A join through a permanent link takes a use before anything else, recorded here with
-- the joiner's address and request (docs/invitations.md has the whole state machine). The
-- claim holds the use while the join's steps are taken (claim_pid: the database session
-- taking them) and, for an address not yet proven, while its owner is asked to confirm it
-- (join_request_id, claim_pid NULL once the email is handed over). A joined claim becomes a
-- link_joins row; any other end gives the use back. At most one join per link and address
-- is in progress.
CREATE TABLE link_claims (
    link_id         uuid NOT NULL REFERENCES links (id),
    email           text COLLATE "C" NOT NULL,
    user_id         uuid,          -- the joiner, once known (signed in, or created)
    use_number      integer NOT NULL,
    request_hash    text NOT NULL,
    claim_pid       integer,
    claimed_at      timestamptz NOT NULL DEFAULT now(),
    join_request_id uuid REFERENCES link_join_requests (id),
    PRIMARY KEY (link_id, email)
);
CREATE INDEX link_claims_working ON link_claims (claimed_at) WHERE claim_pid IS NOT NULL;
CREATE INDEX link_claims_awaiting ON link_claims (join_request_id) WHERE claim_pid IS NULL;

-- The confirmation link's token, sealed (crypto_secretbox, a key not in the database)
-- only until its email is handed to notificationd, as the outbox does for invitations.
ALTER TABLE link_join_requests ADD COLUMN sealed_token text;

-- What a finished join's retry is recognised and answered by.
ALTER TABLE link_joins ADD COLUMN use_number integer, ADD COLUMN request_hash text;
CREATE INDEX link_joins_by_email ON link_joins (link_id, email);
