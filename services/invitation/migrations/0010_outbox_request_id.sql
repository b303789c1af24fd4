-- The request that wrote an outbox row, so the relay hands its email to usher-notificationd
-- under the same request id and one id follows an invitation from the gateway to the email
-- (docs/operations.md). '' for rows written outside a request (the recovery loop).
ALTER TABLE outbox ADD COLUMN request_id text NOT NULL DEFAULT '';
