-- An athlete's log. user_id is auth's users.id: no foreign key across services.
CREATE TABLE activities (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL,
    activity_type   text NOT NULL CHECK (activity_type ~ '^[a-z0-9_]{1,32}$'),
    started_at      timestamptz NOT NULL,
    duration_secs   integer NOT NULL CHECK (duration_secs BETWEEN 1 AND 604800),
    distance_meters double precision CHECK (distance_meters >= 0),
    calories        integer CHECK (calories >= 0),
    notes           text,
    source          text NOT NULL DEFAULT 'manual'
                    CHECK (source IN ('manual', 'garmin', 'apple', 'import')),
    external_id     text,
    device_data     jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- Serves the newest-first listing and its keyset cursor (started_at DESC, id DESC).
CREATE INDEX activities_user_started ON activities (user_id, started_at DESC, id DESC);
-- The same device record imported twice is one activity.
CREATE UNIQUE INDEX activities_user_external ON activities (user_id, source, external_id)
    WHERE external_id IS NOT NULL;
