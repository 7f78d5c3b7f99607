-- The identity every sign-in method anchors to, and its one-to-one profile.
CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL UNIQUE CHECK (email = lower(email)),
    token_version integer NOT NULL DEFAULT 0,  -- bumped to kill every token of the user at once
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE profiles (
    user_id         uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    display_name    text,
    preferred_units text NOT NULL DEFAULT 'metric' CHECK (preferred_units IN ('metric', 'imperial')),
    phone_number    text,
    phone_verified  boolean NOT NULL DEFAULT false,
    preferences     jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
