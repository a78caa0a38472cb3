-- market_prices: the latest price per futures root from POST /api/realtime-price (replaced only
-- by a newer price time). account_equity_peaks: each trailing account's highest marked equity.
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f database/market_prices_schema.sql
-- Safe to re-run. Kept identical to the Alembic migration 0102_market_prices.

CREATE TABLE IF NOT EXISTS market_prices (
    root VARCHAR(16) NOT NULL,
    price NUMERIC(18, 6) NOT NULL,
    price_time TIMESTAMP WITH TIME ZONE NOT NULL,
    symbol VARCHAR(64) NOT NULL,
    received_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
    CONSTRAINT market_prices_pkey PRIMARY KEY (root)
);

CREATE TABLE IF NOT EXISTS account_equity_peaks (
    firm_code VARCHAR(32) NOT NULL,
    program_id INTEGER NOT NULL,
    equity_peak NUMERIC(18, 6) NOT NULL,
    reached_at TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT account_equity_peaks_pkey PRIMARY KEY (firm_code, program_id)
);
