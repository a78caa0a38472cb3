"""Typed TradingView signals: parsing, validation and event-type classification."""
from signals.signal_model import (
    ENTRY_TYPES,
    EXIT_TYPES,
    INFO_TYPES,
    Signal,
    SignalError,
    canonical_event_type,
    parse_signal,
)

__all__ = ["ENTRY_TYPES", "EXIT_TYPES", "INFO_TYPES", "Signal", "SignalError", "canonical_event_type", "parse_signal"]
