-- dashboard_session_revocations: dashboard sessions ended by a logout before their expiry. A row
-- holds a sha256 digest of the session id (never the id or the cookie) and when the row may go
-- (the session's own expiry plus a margin); rows past it are pruned at the next logout.
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f database/dashboard_sessions_schema.sql
-- Safe to re-run. Kept identical to the Alembic migration 0101_dashboard_sessions.

CREATE TABLE IF NOT EXISTS dashboard_session_revocations (
    session_key VARCHAR(64) NOT NULL,
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
    revoked_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
    CONSTRAINT dashboard_session_revocations_pkey PRIMARY KEY (session_key)
);

CREATE INDEX IF NOT EXISTS idx_dashboard_session_revocations_expires_at
    ON dashboard_session_revocations (expires_at);
