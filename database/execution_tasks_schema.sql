-- execution_tasks: one row per signal the execution router accepted, written (PENDING) and
-- committed before any order is sent, then moved to PROCESSING and COMPLETED / FAILED.
--
-- Run with:  psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f database/execution_tasks_schema.sql
-- (then execution_logs_schema.sql, then trade_positions_schema.sql). Safe to re-run.
-- The service creates the same schema itself (Alembic, database/migrations/) and adopts tables
-- created by these files; tests/integration/test_schema_sql.py checks that both agree.
--
-- Differences from the deployment guide's table, on purpose:
--   status and timestamps are NOT NULL; timestamps carry a time zone;
--   error            why the task failed, readable without opening the JSON result;
--   idempotency_key  unique, so a resent webhook (TradingView retries on 5xx) is recognised.

CREATE TABLE IF NOT EXISTS execution_tasks (
    id SERIAL NOT NULL,
    trade_id VARCHAR(255) NOT NULL,
    event_type VARCHAR(50) NOT NULL,
    payload JSONB NOT NULL,
    status VARCHAR(50) NOT NULL DEFAULT 'PENDING',
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
    error TEXT,
    idempotency_key VARCHAR(255),
    CONSTRAINT execution_tasks_pkey PRIMARY KEY (id),
    CONSTRAINT execution_tasks_idempotency_key_key UNIQUE (idempotency_key)
);

CREATE INDEX IF NOT EXISTS idx_execution_tasks_trade_id ON execution_tasks (trade_id);
CREATE INDEX IF NOT EXISTS idx_execution_tasks_status ON execution_tasks (status);
CREATE INDEX IF NOT EXISTS idx_execution_tasks_created_at ON execution_tasks (created_at);
