-- account_events: the account ledger and its audit trail, one row per realized P&L (CLOSE),
-- reversed close (CLOSE_REVERSED), operator adjustment (ADJUSTMENT), starting-balance
-- correction (SET_BALANCE) or operator-started trading day (NEW_DAY), each with who/why.
-- amount is NULL only for a CLOSE whose exit price was unknown (never a silent zero).
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f database/account_events_schema.sql
-- Safe to re-run. Kept identical to migration 0005_account_ledger.

CREATE TABLE IF NOT EXISTS account_events (
    id SERIAL NOT NULL,
    firm_code VARCHAR(32) NOT NULL,
    program_id INTEGER NOT NULL,
    kind VARCHAR(16) NOT NULL,
    amount NUMERIC(18, 6),
    occurred_at TIMESTAMP WITH TIME ZONE NOT NULL,
    simulated BOOLEAN NOT NULL,
    trade_id VARCHAR(255),
    position_id INTEGER,
    task_id INTEGER,
    symbol VARCHAR(64),
    side VARCHAR(5),
    contracts INTEGER,
    entry_price NUMERIC(18, 6),
    exit_price NUMERIC(18, 6),
    price_source VARCHAR(32),
    actor VARCHAR(128) NOT NULL,
    reason TEXT,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
    CONSTRAINT account_events_pkey PRIMARY KEY (id),
    CONSTRAINT account_events_kind_check
        CHECK (kind IN ('CLOSE', 'CLOSE_REVERSED', 'ADJUSTMENT', 'SET_BALANCE', 'NEW_DAY')),
    CONSTRAINT account_events_amount_check CHECK (amount IS NOT NULL OR kind IN ('CLOSE', 'NEW_DAY'))
);

CREATE INDEX IF NOT EXISTS idx_account_events_account
    ON account_events (firm_code, program_id, occurred_at);
