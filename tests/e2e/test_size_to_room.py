"""{FIRM}_{ID}_SIZE_TO_ROOM through the webhook, on both databases: an open loss marked by the
price webhook shrinks the room, and the next entry is sized so that a stop-out at its stop fits it."""
from __future__ import annotations

from tests.e2e.test_realtime_price import day, entry, ftmo, mark, signal


def test_an_open_loss_shrinks_the_next_entry_to_what_a_stop_out_can_still_lose(make_app):
    app, client, clock = day(make_app, FTMO_1_SIZE_TO_ROOM="true")
    mark(client, clock, 16495)  # 2 contracts x 5 points x $20: -200 open, 800 of the 1,000 daily room left
    second = signal(client, entry("20260310_141500_BULLISH"))
    sizing = ftmo(second["program_sizing"])
    assert sizing["contracts"] == 1  # one 25-point stop-out ($500) fits 800, two ($1,000) do not
    assert (sizing["details"]["capped_by"], sizing["details"]["loss_room_rule"]) == ("loss_room", "MAX_DAILY_LOSS")
    assert sizing["details"]["loss_room"] == 800.0
    assert ftmo(second["connector_results"])["details"]["contracts"] == 1


def test_no_room_for_one_stop_out_refuses_the_entry(make_app):
    app, client, clock = day(make_app, FTMO_1_SIZE_TO_ROOM="true")
    mark(client, clock, 16485)  # -600 open: 400 left, less than one $500 stop-out
    second = signal(client, entry("20260310_141500_BULLISH"))
    sizing = ftmo(second["program_sizing"])
    assert (sizing["status"], sizing["rule"]) == ("REJECTED", "NO_LOSS_ROOM")
    assert not [r for r in second["connector_results"] if r["firm_code"] == "FTMO"]


def test_without_size_to_room_the_same_loss_sizes_as_before(make_app):
    app, client, clock = day(make_app)
    mark(client, clock, 16495)
    assert ftmo(signal(client, entry("20260310_141500_BULLISH"))["program_sizing"])["contracts"] == 2
