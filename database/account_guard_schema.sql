-- account_guard_trips: one row per account, book (simulated = paper) and trading day on which the
-- account guard found equity within {FIRM}_{ID}_GUARD_BUFFER of a loss limit, closed the open
-- positions and held the program REDUCING until `until` (released_at: an operator ended it early).
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f database/account_guard_schema.sql
-- Safe to re-run. Kept identical to the Alembic migration 0103_account_guard.

CREATE TABLE IF NOT EXISTS account_guard_trips (
    id SERIAL NOT NULL,
    firm_code VARCHAR(32) NOT NULL,
    program_id INTEGER NOT NULL,
    simulated BOOLEAN NOT NULL,
    day_start TIMESTAMP WITH TIME ZONE NOT NULL,
    tripped_at TIMESTAMP WITH TIME ZONE NOT NULL,
    until TIMESTAMP WITH TIME ZONE NOT NULL,
    triggered_by VARCHAR(16) NOT NULL,
    rule VARCHAR(32) NOT NULL,
    room NUMERIC(18, 6) NOT NULL,
    buffer NUMERIC(18, 6) NOT NULL,
    equity NUMERIC(18, 6) NOT NULL,
    open_pl NUMERIC(18, 6) NOT NULL,
    source VARCHAR(32) NOT NULL,
    status VARCHAR(16) NOT NULL,
    reason TEXT NOT NULL,
    outcome JSONB,
    released_at TIMESTAMP WITH TIME ZONE,
    released_by VARCHAR(128),
    release_reason TEXT,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
    CONSTRAINT account_guard_trips_pkey PRIMARY KEY (id),
    CONSTRAINT account_guard_trips_account_day_key
        UNIQUE (firm_code, program_id, simulated, day_start),
    CONSTRAINT account_guard_trips_triggered_by_check CHECK (triggered_by IN ('PRICE', 'SNAPSHOT', 'FILL')),
    CONSTRAINT account_guard_trips_status_check CHECK (status IN ('FLATTENING', 'DONE'))
);
