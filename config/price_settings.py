"""Settings of the price webhook (`POST /api/realtime-price`), read with the other settings."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, TypeAdapter

DEFAULT_PRICE_MAX_AGE_SECONDS = 300
"""A price whose `time` is older than this when it arrives is ignored: a TradingView alert can be
delivered late, and a mark from minutes ago would misstate an open loss. 300 s covers a
once-per-bar-close alert on charts up to 5 minutes."""

_PRICE_AGE = TypeAdapter(Annotated[int, Field(ge=1, le=86_400)])


def read_price_settings(reader: Any) -> dict[str, int]:
    """The Settings fields for prices from `reader` (config.settings._Reader), problems collected there."""
    age = reader.typed("PRICE_MAX_AGE_SECONDS", _PRICE_AGE, "a number of seconds between 1 and 86400")
    return {"price_max_age_seconds": DEFAULT_PRICE_MAX_AGE_SECONDS if age is None else age}
