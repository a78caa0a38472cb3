"""Account breach checks (max daily loss, max total loss, max drawdown) per firm/program."""
from account_engine.account_breach_engine import evaluate_account_breach
from engine_common.rules import BreachRules

__all__ = ["BreachRules", "evaluate_account_breach"]
