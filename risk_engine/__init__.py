"""Per-firm pre-trade risk checks (max position size, max daily loss, max total loss)."""
from engine_common.rules import RiskRules
from risk_engine.prop_risk_engine import evaluate_risk

__all__ = ["RiskRules", "evaluate_risk"]
