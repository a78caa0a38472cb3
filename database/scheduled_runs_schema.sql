-- scheduled_runs: one row per run of a timed job (flat-by cutoff, news flattening, task recovery),
-- keyed by the job and the instant it was due, so each run happens once across every worker and
-- instance sharing the database.
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f database/scheduled_runs_schema.sql
-- Safe to re-run. Kept identical to the Alembic migration 0104_scheduled_runs.

CREATE TABLE IF NOT EXISTS scheduled_runs (
    job_id VARCHAR(64) NOT NULL,
    due_at TIMESTAMP WITH TIME ZONE NOT NULL,
    claimed_at TIMESTAMP WITH TIME ZONE NOT NULL,
    worker VARCHAR(128) NOT NULL,
    status VARCHAR(16) NOT NULL,
    finished_at TIMESTAMP WITH TIME ZONE,
    detail JSONB,
    CONSTRAINT scheduled_runs_pkey PRIMARY KEY (job_id, due_at),
    CONSTRAINT scheduled_runs_status_check CHECK (status IN ('RUNNING', 'DONE', 'FAILED'))
);
