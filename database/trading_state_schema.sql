-- trading_state: the operator's kill switch (ACTIVE / REDUCING = exits only / HALTED = nothing
-- sent, signals still recorded). One row, id = 1; no row means ACTIVE.
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f database/trading_state_schema.sql
-- Safe to re-run. Kept identical to the Alembic migration 0006_trading_state.

CREATE TABLE IF NOT EXISTS trading_state (
    id INTEGER NOT NULL,
    state VARCHAR(16) NOT NULL DEFAULT 'ACTIVE',
    reason TEXT,
    changed_by VARCHAR(64),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
    CONSTRAINT trading_state_pkey PRIMARY KEY (id),
    CONSTRAINT trading_state_id_check CHECK (id = 1),
    CONSTRAINT trading_state_state_check CHECK (state IN ('ACTIVE', 'REDUCING', 'HALTED'))
);
