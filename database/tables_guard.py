"""The account guard's trips: one row per account, book and trading day on which its equity came
within `{FIRM}_{ID}_GUARD_BUFFER` of a loss limit.

The row is the guard's memory and audit trail at once: the unique key makes it act once per
breach however many workers see the price, `until` holds the program REDUCING across restarts,
`status` FLATTENING tells a restarted service to finish the exits, and `outcome` records what
each exit did. An operator release (`released_at`) ends the hold early, with who and why.
Created by migration ``0103_account_guard`` and ``database/account_guard_schema.sql``.
"""
from __future__ import annotations

from sqlalchemy import Boolean, Column, Integer, PrimaryKeyConstraint, String, Table, Text, UniqueConstraint, func

from database.tables import JsonDocument, Price, Timestamp, metadata, one_of
from domain.account_guard import GuardStatus, GuardTrigger

account_guard_trips = Table(
    "account_guard_trips",
    metadata,
    Column("id", Integer, autoincrement=True),
    Column("firm_code", String(32), nullable=False),
    Column("program_id", Integer, nullable=False),
    Column("simulated", Boolean, nullable=False),  # the paper book's trip never holds the live account
    Column("day_start", Timestamp, nullable=False),  # the firm's trading day it tripped in
    Column("tripped_at", Timestamp, nullable=False),
    Column("until", Timestamp, nullable=False),  # entries refused until then (the next trading day)
    Column("triggered_by", String(16), nullable=False),
    Column("rule", String(32), nullable=False),  # the loss limit it came close to
    Column("room", Price, nullable=False),
    Column("buffer", Price, nullable=False),
    Column("equity", Price, nullable=False),
    Column("open_pl", Price, nullable=False),
    Column("source", String(32), nullable=False),  # where the equity came from (LEDGER, SNAPSHOT, ...)
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("outcome", JsonDocument, nullable=True),
    Column("released_at", Timestamp, nullable=True),
    Column("released_by", String(128), nullable=True),
    Column("release_reason", Text, nullable=True),
    Column("created_at", Timestamp, nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("id", name="account_guard_trips_pkey"),
    UniqueConstraint("firm_code", "program_id", "simulated", "day_start",
                     name="account_guard_trips_account_day_key"),
    one_of("triggered_by", GuardTrigger, name="account_guard_trips_triggered_by_check"),
    one_of("status", GuardStatus, name="account_guard_trips_status_check"),
)
