"""The service version, reported by /health and the start-up log."""
__version__ = "0.1.0"
