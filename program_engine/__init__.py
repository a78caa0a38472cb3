"""Program position sizing: how many contracts a signal may trade for one firm/program."""
from engine_common.rules import ScalingRules
from program_engine.program_sizing_engine import calculate_program_sizing

__all__ = ["ScalingRules", "calculate_program_sizing"]
