"""A development tool, not part of the product: a local simulator of the firm APIs the live
connectors speak (see simulator/core.py), for tests and for trying live mode without real money."""
from simulator.core import DEFAULT_CREDENTIALS, FIRMS, Simulator

__all__ = ["DEFAULT_CREDENTIALS", "FIRMS", "Simulator"]
