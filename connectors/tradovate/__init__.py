"""Tradovate REST pieces the APEX connector is built from: typed answers (`schemas`) and the
session that logs in, honours penalties and lockouts, and resolves accounts and contracts (`api`)."""
