"""Configuration: validated settings and the guide's configuration functions."""
from config.prop_firm_config import (
    RuleBook,
    get_account_breach_rules,
    get_firm_config,
    get_firm_risk_rules,
    get_program_scaling_rules,
    get_routing_rules_for_task,
)
from config.settings import (
    ConfigError,
    FirmSettings,
    ProgramSettings,
    Settings,
    get_settings,
    load_settings,
    parse_settings,
    set_settings,
)

__all__ = [
    "ConfigError", "FirmSettings", "ProgramSettings", "RuleBook", "Settings",
    "get_account_breach_rules", "get_firm_config", "get_firm_risk_rules", "get_program_scaling_rules",
    "get_routing_rules_for_task", "get_settings", "load_settings", "parse_settings", "set_settings",
]
