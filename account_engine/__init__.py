"""Account breach checks (max daily loss, max total loss, max drawdown) per firm/program."""
from account_engine.account_breach_engine import BreachResult, evaluate_account_breach

__all__ = ["BreachResult", "evaluate_account_breach"]
