"""Per-firm pre-trade risk checks (max position size, max daily loss, max total loss)."""
from risk_engine.prop_risk_engine import RiskResult, evaluate_risk

__all__ = ["RiskResult", "evaluate_risk"]
