-- trade_positions: what each trade opened, per firm and program, so that an exit closes exactly
-- that (never a guessed quantity) and a trade opens at most once per firm/program, enforced by
-- the database across every worker and instance.
--
-- status: OPEN (contracts_open > 0 may remain), CLOSED (fully exited),
--         RELEASED (the entry order failed; nothing is open, the trade will not re-open here).
--
-- Run after execution_tasks_schema.sql:
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f database/trade_positions_schema.sql
-- Safe to re-run. Kept identical to the Alembic migration (database/migrations/).

CREATE TABLE IF NOT EXISTS trade_positions (
    id SERIAL NOT NULL,
    trade_id VARCHAR(255) NOT NULL,
    firm_code VARCHAR(32) NOT NULL,
    program_id INTEGER NOT NULL,
    symbol VARCHAR(64) NOT NULL,
    side VARCHAR(5) NOT NULL,
    contracts_opened INTEGER NOT NULL,
    contracts_open INTEGER NOT NULL,
    entry_price NUMERIC(18, 6),
    stop_price NUMERIC(18, 6),
    status VARCHAR(16) NOT NULL DEFAULT 'OPEN',
    dry_run BOOLEAN NOT NULL,
    client_order_id VARCHAR(64),
    opened_task_id INTEGER,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
    CONSTRAINT trade_positions_pkey PRIMARY KEY (id),
    CONSTRAINT trade_positions_opened_task_id_fkey
        FOREIGN KEY (opened_task_id) REFERENCES execution_tasks (id),
    CONSTRAINT trade_positions_trade_id_firm_code_program_id_key
        UNIQUE (trade_id, firm_code, program_id),
    CONSTRAINT trade_positions_contracts_opened_check CHECK (contracts_opened > 0),
    CONSTRAINT trade_positions_contracts_open_check
        CHECK (contracts_open >= 0 AND contracts_open <= contracts_opened),
    CONSTRAINT trade_positions_side_check CHECK (side IN ('LONG', 'SHORT')),
    CONSTRAINT trade_positions_status_check CHECK (status IN ('OPEN', 'CLOSED', 'RELEASED'))
);

CREATE INDEX IF NOT EXISTS idx_trade_positions_firm_code_status
    ON trade_positions (firm_code, status);

-- The firm's contract the entry traded (APEX: a Tradovate symbol such as NQZ5; TOPSTEP: a ProjectX
-- contract id), so the exit closes that contract even after a roll. Alembic revision
-- 0100_position_contract.
ALTER TABLE trade_positions ADD COLUMN IF NOT EXISTS firm_contract VARCHAR(64);
