-- Monitoring and dashboard queries for the execution router (PostgreSQL).
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f database/monitoring.sql
--
-- Working versions of every query in the deployment guide's "Monitoring and observability" and
-- "Dashboard queries" sections. Several of the guide's originals are rejected by PostgreSQL:
-- they call the set-returning jsonb_array_elements() inside WHERE ("set-returning functions are
-- not allowed in WHERE") and inside aggregates ("aggregate function calls cannot contain
-- set-returning function calls"), and the firm success rate expands the same array several
-- times in one select list. Here each result array is flattened once, by a view with a LATERAL
-- join (one row per array element), and the queries filter and aggregate ordinary columns.
--
-- Safe to run again: the views are CREATE OR REPLACE and the queries only read. Works whether
-- response_body is JSONB (this service, the guide's schema) or JSON (cast below). Each query is
-- introduced by a "-- name:" line; tests/integration/test_monitoring_sql.py runs the whole file
-- and then every named query against routed signals.

-- Run it on tables the service has migrated. The guide's original tables (created_at without a
-- time zone) are converted by the service's first migration, and PostgreSQL cannot change the type
-- of a column a view uses: views created on unmigrated tables would block that migration.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_attribute
               WHERE attrelid IN ('execution_tasks'::regclass, 'execution_logs'::regclass)
                 AND attname = 'created_at' AND NOT attisdropped
                 AND format_type(atttypid, atttypmod) <> 'timestamp with time zone') THEN
        RAISE EXCEPTION 'execution_tasks/execution_logs are the guide''s original tables (created_at without time zone). Migrate them first (flask --app web_server init-db, or start the service once), then run this file again.';
    END IF;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Views: one row per element of each result array, with the log row's identity and time.
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE VIEW execution_risk_checks AS
SELECT el.id AS log_id, el.task_id, el.trade_id, el.event_type, el.created_at,
       item->>'firm_code' AS firm_code,
       item->>'status'    AS status,
       item->>'rule'      AS rule,
       item->>'reason'    AS reason
FROM execution_logs el
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(el.response_body::jsonb -> 'risk_checks') = 'array'
         THEN el.response_body::jsonb -> 'risk_checks' ELSE '[]'::jsonb END) AS item;

CREATE OR REPLACE VIEW execution_program_sizing AS
SELECT el.id AS log_id, el.task_id, el.trade_id, el.event_type, el.created_at,
       item->>'firm_code' AS firm_code,
       CASE WHEN jsonb_typeof(item->'program_id') = 'number' THEN (item->>'program_id')::integer END AS program_id,
       item->>'status'    AS status,
       CASE WHEN jsonb_typeof(item->'contracts') = 'number' THEN (item->>'contracts')::numeric END AS contracts,
       item->>'rule'      AS rule,
       item->>'reason'    AS reason
FROM execution_logs el
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(el.response_body::jsonb -> 'program_sizing') = 'array'
         THEN el.response_body::jsonb -> 'program_sizing' ELSE '[]'::jsonb END) AS item;

CREATE OR REPLACE VIEW execution_account_breaches AS
SELECT el.id AS log_id, el.task_id, el.trade_id, el.event_type, el.created_at,
       item->>'firm_code' AS firm_code,
       CASE WHEN jsonb_typeof(item->'program_id') = 'number' THEN (item->>'program_id')::integer END AS program_id,
       item->>'status'    AS status,
       item->>'rule'      AS rule,
       item->>'reason'    AS reason
FROM execution_logs el
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(el.response_body::jsonb -> 'account_breaches') = 'array'
         THEN el.response_body::jsonb -> 'account_breaches' ELSE '[]'::jsonb END) AS item;

CREATE OR REPLACE VIEW execution_connector_results AS
SELECT el.id AS log_id, el.task_id, el.trade_id, el.event_type, el.created_at,
       item->>'firm_code' AS firm_code,
       CASE WHEN jsonb_typeof(item->'program_id') = 'number' THEN (item->>'program_id')::integer END AS program_id,
       item->>'status'    AS status,
       item->>'reason'    AS reason,
       item->>'mode'      AS mode,
       item->>'order_id'  AS order_id
FROM execution_logs el
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(el.response_body::jsonb -> 'connector_results') = 'array'
         THEN el.response_body::jsonb -> 'connector_results' ELSE '[]'::jsonb END) AS item;

-- ---------------------------------------------------------------------------------------------
-- Monitoring and observability: key metrics
-- ---------------------------------------------------------------------------------------------

-- name: tasks_by_status_24h
-- Tasks by status (last 24 hours). (The guide's query; valid as written.)
SELECT status, COUNT(*) AS count
FROM execution_tasks
WHERE created_at > NOW() - INTERVAL '24 hours'
GROUP BY status
ORDER BY status;

-- name: risk_checks_by_firm_24h
-- Risk check approvals vs rejections (last 24 hours).
SELECT firm_code AS firm, status, COUNT(*) AS count
FROM execution_risk_checks
WHERE created_at > NOW() - INTERVAL '24 hours'
GROUP BY firm, status
ORDER BY firm, status;

-- name: avg_contracts_by_program_24h
-- Average contracts per firm/program (last 24 hours).
SELECT firm_code AS firm, program_id AS program, AVG(contracts) AS avg_contracts
FROM execution_program_sizing
WHERE created_at > NOW() - INTERVAL '24 hours'
GROUP BY firm, program
ORDER BY firm, program;

-- name: account_breaches_24h
-- Account breach statistics (last 24 hours).
SELECT firm_code AS firm, program_id AS program, status, rule, COUNT(*) AS count
FROM execution_account_breaches
WHERE created_at > NOW() - INTERVAL '24 hours'
GROUP BY firm, program, status, rule
ORDER BY firm, program, status, rule;

-- name: connector_results_24h
-- Connector success/failure rates (last 24 hours).
SELECT firm_code AS firm, status, COUNT(*) AS count
FROM execution_connector_results
WHERE created_at > NOW() - INTERVAL '24 hours'
GROUP BY firm, status
ORDER BY firm, status;

-- ---------------------------------------------------------------------------------------------
-- Dashboard queries
-- ---------------------------------------------------------------------------------------------

-- name: recent_execution_summary
-- Last 10 executions with complete details. (The guide's query; valid as written.)
SELECT
    et.id,
    et.trade_id,
    et.event_type,
    et.status,
    el.response_body->>'dry_run' AS dry_run,
    jsonb_array_length(el.response_body::jsonb->'risk_checks') AS risk_checks_count,
    jsonb_array_length(el.response_body::jsonb->'program_sizing') AS sizing_count,
    jsonb_array_length(el.response_body::jsonb->'account_breaches') AS breach_checks_count,
    jsonb_array_length(el.response_body::jsonb->'connector_results') AS connector_count,
    et.created_at
FROM execution_tasks et
LEFT JOIN execution_logs el ON et.id = el.task_id
ORDER BY et.created_at DESC, et.id DESC
LIMIT 10;

-- name: firm_success_rate_7d
-- Execution success rate by firm (last 7 days). total_attempts counts every connector result, as
-- in the guide; the rate counts only orders that went to a firm (SUCCESS, FAILED, UNKNOWN), so a
-- dry-run week (every order SKIPPED) has no rate (NULL) rather than 0.00, as the dashboard shows it.
SELECT
    firm_code AS firm,
    COUNT(*) AS total_attempts,
    COUNT(*) FILTER (WHERE status = 'SUCCESS') AS successes,
    COUNT(*) FILTER (WHERE status = 'FAILED')  AS failures,
    COUNT(*) FILTER (WHERE status = 'SKIPPED') AS skipped,
    ROUND(100.0 * COUNT(*) FILTER (WHERE status = 'SUCCESS')
          / NULLIF(COUNT(*) FILTER (WHERE status IN ('SUCCESS', 'FAILED', 'UNKNOWN')), 0), 2) AS success_rate
FROM execution_connector_results
WHERE created_at > NOW() - INTERVAL '7 days'
GROUP BY firm
ORDER BY firm;

-- name: risk_rejections_7d
-- Most common risk rejection reasons (last 7 days).
SELECT firm_code AS firm, rule, COUNT(*) AS rejection_count
FROM execution_risk_checks
WHERE created_at > NOW() - INTERVAL '7 days'
  AND status = 'REJECTED'
GROUP BY firm, rule
ORDER BY rejection_count DESC, firm, rule;
