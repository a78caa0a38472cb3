"""Safety and reliability around the router: idempotency, trading state (kill switch),
velocity/streak limits and crash recovery. Each concern is its own small module; the router only
calls SafetyGuard at two points (before an entry order is reserved, before an exit is claimed)."""
