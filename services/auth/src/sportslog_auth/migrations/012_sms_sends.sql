-- Every SMS auth hands to the notifier, for the deployment-wide SMS_DAILY_BUDGET (a
-- rolling 24 h) and its per-country counts. No number is kept: only its calling code.
CREATE TABLE sms_sends (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    country text NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sms_sends_sent_at ON sms_sends (sent_at);
