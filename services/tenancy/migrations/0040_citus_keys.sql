-- Ready to be sharded by account with Citus (docs/scaling.md): the primary key and unique
-- indexes of every tenant-owned table include account_id (accounts: its id), so each row
-- and each uniqueness check lives on one shard. Keys keep their leading column (id): a
-- lookup by id stays indexed. Foreign keys between them name the account on both sides, as
-- Citus requires of keys between distributed tables. Global tables are listed, with why,
-- in tests/citus_keys_test.c.
ALTER TABLE membership_subaccounts
    DROP CONSTRAINT membership_subaccounts_membership_id_fkey,
    DROP CONSTRAINT membership_subaccounts_account_id_subaccount_id_fkey;
ALTER TABLE subaccounts DROP CONSTRAINT subaccounts_pkey,
    DROP CONSTRAINT subaccounts_account_id_id_key, ADD PRIMARY KEY (id, account_id);
ALTER TABLE memberships DROP CONSTRAINT memberships_pkey, ADD PRIMARY KEY (id, account_id);
ALTER TABLE membership_subaccounts DROP CONSTRAINT membership_subaccounts_pkey,
    ADD PRIMARY KEY (membership_id, subaccount_id, account_id),
    ADD FOREIGN KEY (membership_id, account_id) REFERENCES memberships (id, account_id)
        ON DELETE CASCADE,
    ADD FOREIGN KEY (subaccount_id, account_id) REFERENCES subaccounts (id, account_id)
        ON DELETE CASCADE;
ALTER TABLE events DROP CONSTRAINT events_pkey, ADD PRIMARY KEY (seq, account_id);
