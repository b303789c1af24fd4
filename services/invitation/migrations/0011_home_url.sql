-- Where a person goes after accepting an invitation to, or joining, the account when the
-- invitation names no redirect_url: "" for My accounts (docs/invitations.md).
ALTER TABLE account_settings ADD COLUMN home_url text NOT NULL DEFAULT '';
