-- A permanent link gives nobody an address: a join whose address is not verified waits
-- here until its owner follows the link emailed to it (issue 11, holes 5 and 6). Only a
-- keyed hash of that link's token is stored.
CREATE TABLE link_join_requests (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    link_id    uuid NOT NULL REFERENCES links (id),
    user_id    uuid NOT NULL,
    email      text COLLATE "C" NOT NULL,
    token_hash bytea NOT NULL UNIQUE,
    state      text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'joined', 'cancelled')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    decided_at timestamptz
);
-- A newer request of the user through the same link replaces the pending one.
CREATE INDEX link_join_requests_pending ON link_join_requests (link_id, user_id)
    WHERE state = 'pending';
