-- connector_orders: a durable record of every live order submission, keyed by its client order id,
-- written before the request leaves. A submission whose answer never arrived (status UNKNOWN) is
-- reconciled with the firm by that id and never blindly sent again.
--
-- status: PENDING (answer not yet in), SUCCESS, FAILED, UNKNOWN (sent; outcome unknown).
--
-- Run after trade_positions_schema.sql:
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f database/connector_orders_schema.sql
-- Safe to re-run. Kept identical to the Alembic migration 0004_connector_orders.

CREATE TABLE IF NOT EXISTS connector_orders (
    id SERIAL NOT NULL,
    client_order_id VARCHAR(64) NOT NULL,
    firm_code VARCHAR(32) NOT NULL,
    program_id INTEGER NOT NULL,
    task_id INTEGER NOT NULL,
    trade_id VARCHAR(255) NOT NULL,
    action VARCHAR(8) NOT NULL,
    contracts INTEGER NOT NULL,
    position_id INTEGER,
    status VARCHAR(16) NOT NULL DEFAULT 'PENDING',
    reason VARCHAR(64),
    firm_order_id VARCHAR(128),
    message TEXT,
    request JSONB NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
    CONSTRAINT connector_orders_pkey PRIMARY KEY (id),
    CONSTRAINT connector_orders_client_order_id_key UNIQUE (client_order_id),
    CONSTRAINT connector_orders_task_id_fkey FOREIGN KEY (task_id) REFERENCES execution_tasks (id),
    CONSTRAINT connector_orders_position_id_fkey FOREIGN KEY (position_id) REFERENCES trade_positions (id),
    CONSTRAINT connector_orders_action_check CHECK (action IN ('ENTRY', 'EXIT')),
    CONSTRAINT connector_orders_status_check CHECK (status IN ('PENDING', 'SUCCESS', 'FAILED', 'UNKNOWN'))
);

CREATE INDEX IF NOT EXISTS idx_connector_orders_status ON connector_orders (status);
CREATE INDEX IF NOT EXISTS idx_connector_orders_trade_id ON connector_orders (trade_id);
