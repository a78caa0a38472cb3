"""Program position sizing: how many contracts a signal may trade for one firm/program."""
from program_engine.program_sizing_engine import SizingResult, calculate_program_sizing

__all__ = ["SizingResult", "calculate_program_sizing"]
