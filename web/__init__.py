"""HTTP layer: thin blueprints that parse, call one service and map errors to status codes."""
