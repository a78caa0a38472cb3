"""The guide's psql queries, verbatim, shared by the tests that run them on PostgreSQL."""

# The guide's queries, verbatim ("Step 5: Test Dry-Run Mode", "Monitoring", "Dashboard Queries").
GUIDE_LATEST_TASK = """\
-- View latest execution task
SELECT * FROM execution_tasks ORDER BY created_at DESC LIMIT 1;
"""

GUIDE_LATEST_LOG = """\
-- View latest execution log
SELECT 
    el.trade_id,
    el.event_type,
    el.response_body->>'dry_run' as dry_run,
    el.response_body->'risk_checks' as risk_checks,
    el.response_body->'program_sizing' as program_sizing,
    el.response_body->'account_breaches' as account_breaches,
    el.response_body->'connector_results' as connector_results
FROM execution_logs el
ORDER BY el.created_at DESC
LIMIT 1;
"""

GUIDE_TASKS_BY_STATUS = """\
-- Tasks by status (last 24 hours)
SELECT 
    status,
    COUNT(*) as count
FROM execution_tasks
WHERE created_at > NOW() - INTERVAL '24 hours'
GROUP BY status;
"""

GUIDE_RECENT_EXECUTION_SUMMARY = """\
-- Last 10 executions with complete details
SELECT 
    et.id,
    et.trade_id,
    et.event_type,
    et.status,
    el.response_body->>'dry_run' as dry_run,
    jsonb_array_length(el.response_body->'risk_checks') as risk_checks_count,
    jsonb_array_length(el.response_body->'program_sizing') as sizing_count,
    jsonb_array_length(el.response_body->'account_breaches') as breach_checks_count,
    jsonb_array_length(el.response_body->'connector_results') as connector_count,
    et.created_at
FROM execution_tasks et
LEFT JOIN execution_logs el ON et.id = el.task_id
ORDER BY et.created_at DESC
LIMIT 10;
"""
