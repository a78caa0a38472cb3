"""ROUTES: which firm/programs an entry goes to, chosen per signal.

    ROUTES="strategy:NQ_FVG_CORE=FTMO.1,APEX.1; symbol:ES=TOPSTEP.1"

Rules are separated by `;`. `strategy:NAME` matches the signal's `strategy_name` (case-insensitive,
`*` standing for any run of characters); `symbol:ROOT` matches the resolved futures root. The
first rule that matches wins; a signal no rule matches goes to every program of every firm in
ROUTE_TO_FIRMS. Parsed once at start-up; a rule may name only configured programs (a firm in
ROUTE_TO_FIRMS, a program in its `{FIRM}_PROGRAM_IDS`), so a typo stops start-up instead of
sending a trader's entries nowhere, or somewhere else.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Mapping

from instruments import CONTRACT_SPECS

RULE_KINDS = ("strategy", "symbol")
_TARGET = re.compile(r"^([A-Za-z]+)\.(\d{1,7})$")


@dataclass(frozen=True)
class RouteTarget:
    """One firm/program, written `FIRM.PROGRAM` (`FTMO.1`)."""

    firm_code: str
    program_id: int

    def __str__(self) -> str:
        return f"{self.firm_code}.{self.program_id}"


@dataclass(frozen=True)
class RouteRule:
    """One `kind:pattern=targets` rule of ROUTES."""

    kind: Literal["strategy", "symbol"]
    pattern: str
    """The strategy name as written (matched case-insensitively), or the upper-case root."""
    targets: tuple[RouteTarget, ...]

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.pattern}"

    def matches(self, strategy_name: str | None, root: str | None) -> bool:
        if self.kind == "symbol":
            return root == self.pattern
        return strategy_name is not None and _glob(self.pattern).fullmatch(strategy_name) is not None


@lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    """A strategy pattern as a regular expression, compiled once per pattern."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.IGNORECASE)


@dataclass(frozen=True)
class Route:
    """Where one entry goes: the rule that chose it (None: ROUTE_TO_FIRMS) and its firm/programs,
    firms in the order first named, each firm's programs in the order listed."""

    rule: str | None
    targets: tuple[RouteTarget, ...]
    firm_codes: tuple[str, ...]
    program_ids: Mapping[str, tuple[int, ...]]

    @classmethod
    def of(cls, rule: str | None, targets: tuple[RouteTarget, ...]) -> "Route":
        programs: dict[str, list[int]] = {}
        for target in targets:
            programs.setdefault(target.firm_code, []).append(target.program_id)
        return cls(rule, targets, tuple(programs), {code: tuple(ids) for code, ids in programs.items()})

    def to_dict(self) -> dict[str, Any]:
        """The result document's `route`."""
        return {"rule": self.rule, "targets": [str(t) for t in self.targets]}


def strategy_name_of(signal: Any) -> str | None:
    """The `strategy_name` a signal (or its payload) carries, if it is a non-empty string."""
    name = signal.get("strategy_name") if isinstance(signal, Mapping) else getattr(signal, "strategy_name", None)
    if isinstance(name, str) and name.strip():
        return name.strip()
    return None


def select_rule(rules: tuple[RouteRule, ...], strategy_name: str | None, root: str | None) -> RouteRule | None:
    """The first rule matching the signal's strategy name and root, or None (ROUTE_TO_FIRMS)."""
    for rule in rules:
        if rule.matches(strategy_name, root):
            return rule
    return None


def default_targets(programs: Mapping[str, tuple[int, ...]]) -> tuple[RouteTarget, ...]:
    """Every program of every firm in ROUTE_TO_FIRMS, in their configured order."""
    return tuple(RouteTarget(code, pid) for code, ids in programs.items() for pid in ids)


def parse_routes(raw: str | None, programs: Mapping[str, tuple[int, ...]],
                 known_firms: tuple[str, ...]) -> tuple[tuple[RouteRule, ...], list[str]]:
    """ROUTES into rules, with one `ROUTES: ...` problem per thing wrong. `programs`: each firm
    in ROUTE_TO_FIRMS with its program ids; `known_firms`: every firm code the registry knows."""
    rules: list[RouteRule] = []
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for text in (part.strip() for part in (raw or "").split(";")):
        if not text:
            continue
        rule, rule_problems = _parse_rule(text, programs, known_firms)
        problems.extend(rule_problems)
        if rule is None:
            continue
        key = (rule.kind, rule.pattern.casefold())
        if key in seen:
            problems.append(f"ROUTES: rule {text!r} matches the same signals as an earlier rule, "
                            "which always wins: remove one")
            continue
        seen.add(key)
        rules.append(rule)
    return tuple(rules), problems


def _parse_rule(text: str, programs: Mapping[str, tuple[int, ...]],
                known_firms: tuple[str, ...]) -> tuple[RouteRule | None, list[str]]:
    selector, has_targets, target_list = text.partition("=")
    kind, _, pattern = selector.partition(":")
    kind, pattern = kind.strip().lower(), pattern.strip()
    if not has_targets or kind not in RULE_KINDS or not pattern:
        return None, [f"ROUTES: rule {text!r} must be strategy:NAME=FIRM.PROGRAM,... or symbol:ROOT=FIRM.PROGRAM,..."]
    problems: list[str] = []
    if kind == "symbol":
        pattern = pattern.upper()
        if pattern not in CONTRACT_SPECS:
            problems.append(f"ROUTES: rule {text!r}: {pattern!r} is not a futures root; known roots: "
                            f"{', '.join(CONTRACT_SPECS)}")
    targets: list[RouteTarget] = []
    for item in (t.strip() for t in target_list.split(",")):
        target = _parse_target(item, text, programs, known_firms)
        if isinstance(target, str):
            problems.append(target)
        elif target in targets:
            problems.append(f"ROUTES: rule {text!r} lists {target} twice")
        else:
            targets.append(target)
    if not targets and not problems:
        problems.append(f"ROUTES: rule {text!r} names no FIRM.PROGRAM")
    if problems:
        return None, problems
    return RouteRule(kind, pattern, tuple(targets)), []  # type: ignore[arg-type] - kind checked above


def _parse_target(item: str, text: str, programs: Mapping[str, tuple[int, ...]],
                  known_firms: tuple[str, ...]) -> RouteTarget | str:
    """The target `item` names, or the problem with it."""
    match = _TARGET.match(item)
    if match is None:
        return f"ROUTES: {item!r} in rule {text!r} must be FIRM.PROGRAM, such as FTMO.1"
    target = RouteTarget(match.group(1).upper(), int(match.group(2)))
    if target.firm_code not in known_firms:
        return (f"ROUTES: {target} in rule {text!r}: unknown firm {target.firm_code!r}; known firms: "
                f"{', '.join(known_firms)}")
    if target.firm_code not in programs:
        return (f"ROUTES: {target} in rule {text!r} is not configured: {target.firm_code} is not in "
                "ROUTE_TO_FIRMS")
    if target.program_id not in programs[target.firm_code]:
        listed = ", ".join(str(pid) for pid in programs[target.firm_code]) or "none"
        return (f"ROUTES: {target} in rule {text!r} is not configured: {target.firm_code}_PROGRAM_IDS "
                f"lists {listed}")
    return target
