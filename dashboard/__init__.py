"""The operator dashboard: one server-rendered page (Jinja, no front-end build) and the data behind it."""
