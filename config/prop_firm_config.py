"""The guide's configuration API, served from the validated, cached Settings.

These functions keep the guide's names; the rule getters give the engines' typed inputs
(`RiskRules`, `ScalingRules`, `BreachRules`), built from Settings that were validated at
start-up. None of them re-reads the environment per call.
"""
from __future__ import annotations

from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from config.routes import Route, RouteRule, default_targets, select_rule, strategy_name_of
from config.settings import FirmSettings, ProgramSettings, Settings, get_settings
from engine_common.rules import BreachRules, RiskRules, ScalingRules
from instruments import resolve_root
from prop_firm_registry import get_firm_by_code

if TYPE_CHECKING:
    from signals import Signal

R = TypeVar("R", RiskRules, BreachRules)


def _settings(settings: Settings | None) -> Settings:
    return settings if settings is not None else get_settings()


def get_firm_config(firm_code: str, settings: Settings | None = None) -> dict[str, Any]:
    """Registry metadata of a firm plus its configured routing (empty dict for an unknown firm)."""
    info = get_firm_by_code(firm_code)
    if info is None:
        return {}
    cfg = _settings(settings)
    firm = cfg.firm(info.code)
    data = info.to_dict()
    data.update(
        {
            "routed": firm is not None,
            "program_ids": list(firm.program_ids) if firm else [],
            "dry_run": firm.dry_run if firm else cfg.dry_run,
            "risk_rules": asdict(get_firm_risk_rules(info.code, cfg)),
        }
    )
    if firm is not None:
        data["trading_day_start"] = firm.trading_day_start.strftime("%H:%M")
        data["trading_day_timezone"] = firm.trading_day_timezone
    return data


def get_routing_rules_for_task(
    task_payload: dict[str, Any] | None, settings: Settings | None = None
) -> tuple[list[str], dict[str, Any]]:
    """Firms to route a task to and their program ids: `(["FTMO"], {"program_ids": {"FTMO": [1]}})`,
    chosen by ROUTES for the payload's `strategy_name` and symbol; `"rule"` names the ROUTES rule
    that matched (None: no rule did, so every program of every firm in ROUTE_TO_FIRMS).
    """
    cfg = _settings(settings)
    payload = task_payload or {}
    rule = select_rule(cfg.routes, strategy_name_of(payload), resolve_root(payload.get("symbol")))
    route = route_of(cfg, rule)
    return list(route.firm_codes), {"program_ids": {code: list(ids) for code, ids in route.program_ids.items()},
                                    "rule": route.rule}


def route_of(settings: Settings, rule: RouteRule | None) -> Route:
    """The firm/programs `rule` sends to; without a rule, ROUTE_TO_FIRMS and all its programs."""
    if rule is not None:
        return Route.of(rule.label, rule.targets)
    return Route.of(None, default_targets({code: settings.firms[code].program_ids for code in settings.route_to_firms}))


def get_firm_risk_rules(firm_code: str, settings: Settings | None = None) -> RiskRules:
    """Firm-wide risk rules; a rule that is not configured is None (disabled)."""
    return _same_names(RiskRules, _settings(settings).firm(firm_code))


def get_program_scaling_rules(firm_code: str, program_id: int, settings: Settings | None = None) -> ScalingRules:
    """Sizing inputs of one firm/program plus the service-wide order ceiling and point-value overrides;
    `position_capacity` is left to the caller, who knows the open contracts."""
    cfg = _settings(settings)
    firm = cfg.firm(firm_code)
    program = firm.programs.get(int(program_id)) if firm else None
    return ScalingRules(
        account_size=program.account_size if program else None,
        risk_per_trade=program.risk_per_trade if program else None,
        max_contracts=program.max_contracts if program else None,
        max_contracts_per_order=cfg.max_contracts_per_order,
        sizing_mode=program.sizing_mode if program else None,
        fixed_contracts=program.fixed_contracts if program else None,
        quantity_multiplier=program.quantity_multiplier if program else None,
        allow_no_stop=program.allow_no_stop if program else None,
        size_to_room=program.size_to_room if program else None,
        point_value_overrides=cfg.point_value_overrides,
    )


def get_account_breach_rules(firm_code: str, program_id: int, settings: Settings | None = None) -> BreachRules:
    """Account breach limits of one firm/program; a limit that is not configured is None."""
    firm = _settings(settings).firm(firm_code)
    program = firm.programs.get(int(program_id)) if firm else None
    return _same_names(BreachRules, program)


def _same_names(rules_type: type[R], source: FirmSettings | ProgramSettings | None) -> R:
    """The rules the settings hold under the same field names; none configured without settings."""
    if source is None:
        return rules_type()
    return rules_type(**{f.name: getattr(source, f.name) for f in fields(rules_type)})


class RuleBook:
    """The rules above for one Settings, each built once: Settings never change, and an entry
    reads every routed firm's and program's rules."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._built: dict[tuple[Any, ...], Any] = {}

    def routes_for(self, signal: "Signal") -> Route:
        """Where `signal`'s entry goes: the first ROUTES rule matching its strategy_name and root,
        else ROUTE_TO_FIRMS. Matching is a few string comparisons; each Route is built once."""
        rule = select_rule(self.settings.routes, strategy_name_of(signal), signal.symbol_root)
        return self._once(("route", rule.label if rule else None), lambda: route_of(self.settings, rule))

    def risk(self, firm_code: str) -> RiskRules:
        return self._once(("risk", firm_code), lambda: get_firm_risk_rules(firm_code, self.settings))

    def scaling(self, firm_code: str, program_id: int) -> ScalingRules:
        return self._once(("scaling", firm_code, program_id),
                          lambda: get_program_scaling_rules(firm_code, program_id, self.settings))

    def breach(self, firm_code: str, program_id: int) -> BreachRules:
        return self._once(("breach", firm_code, program_id),
                          lambda: get_account_breach_rules(firm_code, program_id, self.settings))

    def _once(self, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        built = self._built.get(key)
        if built is None:  # two threads may both build it: the same frozen value either way
            built = self._built[key] = build()
        return built
