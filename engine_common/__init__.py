"""Helpers shared by the pure risk, sizing and breach engines (parsing, formatting, loss limits)."""
