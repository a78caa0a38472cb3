"""Pure pieces of the live connectors: MetaApi clientId, CFD volume, the HTTP error split."""
from __future__ import annotations

import json
import socket
from decimal import Decimal

import pytest

from config import parse_settings
from connectors import OrderRequest, client_order_id
from connectors.ftmo_connector import FtmoConnector, metaapi_client_id
from connectors.http_client import Deadline, FirmHttp, NotSent, Rejected
from tests.conftest import STEP2_ENV
from tests.e2e.live_support import live_env


def test_metaapi_client_id_is_short_stable_and_distinct():
    a = client_order_id(123456789, "FTMO", 12, "ENTRY")
    b = client_order_id(123456789, "FTMO", 12, "EXIT")
    assert len(a) > 26  # why a digest is needed at all
    assert len(metaapi_client_id(a)) == 20 and metaapi_client_id(a) == metaapi_client_id(a)
    assert metaapi_client_id(a) != metaapi_client_id(b)


@pytest.mark.parametrize("lots,contracts,volume", [("20", 2, Decimal("40.00")), ("0.33", 3, Decimal("0.99")),
                                                   ("0.125", 1, Decimal("0.12"))])
def test_cfd_volume_is_contracts_times_lots_rounded_down(lots, contracts, volume):
    settings = parse_settings({**STEP2_ENV, **live_env("http://127.0.0.1:9", FTMO_1_LOTS_PER_CONTRACT=lots)})
    connector = FtmoConnector(settings.firms["FTMO"], dry_run=False)
    order = OrderRequest(action="ENTRY", firm_code="FTMO", program_id=1, trade_id="T", task_id=1, symbol="NQ",
                         direction="LONG", contracts=contracts)
    assert connector._volume(order, contracts) == volume


def test_volume_rounding_to_zero_is_refused():
    settings = parse_settings({**STEP2_ENV, **live_env("http://127.0.0.1:9", FTMO_1_LOTS_PER_CONTRACT="0.004")})
    connector = FtmoConnector(settings.firms["FTMO"], dry_run=False)
    order = OrderRequest(action="ENTRY", firm_code="FTMO", program_id=1, trade_id="T", task_id=1, symbol="NQ",
                         direction="LONG", contracts=1)
    with pytest.raises(Rejected) as exc:
        connector._volume(order, 1)
    assert exc.value.reason == "VOLUME_BELOW_MINIMUM"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_firm_is_not_sent_and_redacts_nothing_secret():
    http = FirmHttp("FTMO", f"http://127.0.0.1:{closed_port()}", ["s3cret"])
    with pytest.raises(NotSent) as exc:
        http.submit("POST", "/trade", deadline=Deadline(2.0), json={"a": 1})
    assert exc.value.reason == "CONNECT_ERROR"
    assert http.redact("token s3cret here") == "token *** here"
    http.close()


def test_order_statuses_are_one_enum_and_the_old_names_are_its_members():
    import connectors
    from connectors import OrderStatus

    assert [connectors.SUCCESS, connectors.FAILED, connectors.SKIPPED, connectors.UNKNOWN] == list(OrderStatus)
    assert connectors.SUCCESS is OrderStatus.SUCCESS and OrderStatus.SKIPPED == "SKIPPED"


def test_a_connector_result_stores_its_status_as_plain_text():
    from connectors import ConnectorResult, OrderStatus
    from database.json_documents import result_json

    data = ConnectorResult(firm_code="FTMO", program_id=1, status=OrderStatus.FAILED, dry_run=False).to_dict()
    assert type(data["status"]) is str and data["success"] is False
    assert json.loads(result_json({"connector_results": [data]}))["connector_results"][0]["status"] == "FAILED"
