-- The example's table: how many times each name was greeted.
-- +goose Up
CREATE TABLE greetings (
    name text PRIMARY KEY,
    times bigint NOT NULL,
    last_greeted_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE greetings;
