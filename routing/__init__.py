"""The router's stages: plan an entry or exit (pure), send its orders, record the task's result."""
