-- execution_logs: the complete routing result of each task (risk_checks, program_sizing,
-- account_breaches, connector_results), the same document the webhook answered with.
--
-- Run after execution_tasks_schema.sql:
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f database/execution_logs_schema.sql
-- Safe to re-run. Kept identical to the Alembic migration (database/migrations/).
--
-- Difference from the deployment guide's table, on purpose: task_id is NOT NULL and has a
-- UNIQUE index (the guide's idx_execution_logs_task_id), so every task has exactly one result
-- even when several workers race, and timestamps carry a time zone.

CREATE TABLE IF NOT EXISTS execution_logs (
    id SERIAL NOT NULL,
    task_id INTEGER NOT NULL,
    trade_id VARCHAR(255) NOT NULL,
    event_type VARCHAR(50) NOT NULL,
    response_body JSONB NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
    CONSTRAINT execution_logs_pkey PRIMARY KEY (id),
    CONSTRAINT execution_logs_task_id_fkey FOREIGN KEY (task_id) REFERENCES execution_tasks (id)
);

CREATE UNIQUE INDEX IF NOT EXISTS idx_execution_logs_task_id ON execution_logs (task_id);
CREATE INDEX IF NOT EXISTS idx_execution_logs_trade_id ON execution_logs (trade_id);
CREATE INDEX IF NOT EXISTS idx_execution_logs_created_at ON execution_logs (created_at);
