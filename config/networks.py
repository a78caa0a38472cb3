"""WEBHOOK_ALLOWED_IPS: addresses, CIDR ranges and preset names, expanded to CIDR strings."""
from __future__ import annotations

import ipaddress

# TradingView's published webhook source addresses:
# https://www.tradingview.com/support/solutions/43000529348/ (checked 2026-11)
IP_PRESETS: dict[str, tuple[str, ...]] = {
    "tradingview": ("52.89.214.238/32", "34.212.75.30/32", "54.218.53.128/32", "52.32.178.7/32"),
    "localhost": ("127.0.0.0/8", "::1/128"),
}


def read_allowed_networks(items: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """The networks the items name (presets resolved, duplicates dropped) and one problem per bad item."""
    networks: list[str] = []
    problems: list[str] = []
    for item in items:
        preset = IP_PRESETS.get(item.lower())
        if preset is not None:
            networks.extend(preset)
            continue
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            problems.append(f"WEBHOOK_ALLOWED_IPS: {item!r} is not an IP address, CIDR range or preset "
                            f"({', '.join(IP_PRESETS)})")
    return tuple(dict.fromkeys(networks)), problems
