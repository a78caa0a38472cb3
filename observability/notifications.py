"""Outbound notifications (Discord, Slack, Telegram, any JSON webhook) for events a trader must see.

Events: an account breach rejection, a connector failure, a task failure, an exit whose bracket
stop could not be cut to the position left (APEX, TOPSTEP), a firm that locked the service out (APEX: once
per lockout, on the first order it refuses; entries refused after it are not told again), an account the
account guard flattened (sent by the guard itself, once per trip). Each is derived from the finished result
document by the pure `events_for_result`. Reconciliation, which often runs after the request (in
the background, or `flask reconcile-orders`), reports through the pure `events_for_reconciliation`:
an exit that turned out not to be at the firm, and a found exit whose stop could not be cut.

Why a queue and a thread: a notification must never block or slow the webhook (TradingView gives
up after 3 s and the order path matters more than a chat message). `Notifier.submit` only puts on
a bounded queue and returns; one daemon thread per process sends, with short timeouts and no
retries; when the queue is full the event is dropped with a log line. The URLs embed tokens, so
they are never logged: failures name the channel only.
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping

import requests

from connectors.orders import STOP_NOT_ADJUSTED, OrderStatus
from engine_common.statuses import VerdictStatus

log = logging.getLogger(__name__)

BREACH_REJECTED = "BREACH_REJECTED"
CONNECTOR_FAILED = "CONNECTOR_FAILED"
TASK_FAILED = "TASK_FAILED"
EXIT_NOT_AT_FIRM = "EXIT_NOT_AT_FIRM"
FIRM_LOCKED_OUT = "FIRM_LOCKED_OUT"
ACCOUNT_GUARD = "ACCOUNT_GUARD"  # the account guard flattened an account (safety/account_guard.py)

_STOP = object()


@dataclass(frozen=True)
class Notification:
    kind: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)


def events_for_result(result: Mapping[str, Any]) -> list[Notification]:
    """What in this result deserves a message (pure; one event per firm/program affected)."""
    base = {"trade_id": result.get("trade_id"), "task_id": result.get("task_id"), "event_type": result.get("event_type")}
    events: list[Notification] = []
    if result.get("error"):
        events.append(Notification(TASK_FAILED, f"Task {base['task_id']} ({base['trade_id']}) FAILED: {result['error']}",
                                   {**base, "error": result["error"]}))
    for item in result.get("account_breaches") or ():
        if item.get("status") not in (None, VerdictStatus.APPROVED):
            who = f"{item.get('firm_code')} program {item.get('program_id')}"
            events.append(Notification(
                BREACH_REJECTED, f"{who}: {item.get('status')} by {item.get('rule')} - {item.get('reason')} (trade {base['trade_id']})",
                {**base, "firm_code": item.get("firm_code"), "program_id": item.get("program_id"),
                 "rule": item.get("rule"), "reason": item.get("reason")}))
    for item in result.get("connector_results") or ():
        adjustment = item.get("stop_adjustment") or {}
        if adjustment.get("status") == STOP_NOT_ADJUSTED:  # the exit stands; a stop may now be too big
            who = f"{item.get('firm_code')} program {item.get('program_id')}"
            what = "exit found the account flat" if item.get("status") == OrderStatus.SKIPPED else "exit done"
            events.append(Notification(
                STOP_NOT_ADJUSTED, f"{who}: {what}, stop NOT adjusted - {adjustment.get('message')} "
                                   f"(trade {base['trade_id']})",
                {**base, "firm_code": item.get("firm_code"), "program_id": item.get("program_id"),
                 "position_left": adjustment.get("position_left"), "message": adjustment.get("message")}))
        lockout = item.get("lockout")
        if item.get("status") == OrderStatus.FAILED and lockout is not None:  # told once per lockout
            if lockout.get("notify"):
                firm = item.get("firm_code")
                events.append(Notification(
                    FIRM_LOCKED_OUT, f"{firm} locked this service out until {lockout.get('until')} "
                                     f"({item.get('reason')}): every {firm} order until then is refused unsent, "
                                     f"exits too - manage open {firm} positions at the firm by hand",
                    {**base, "firm_code": firm, "until": lockout.get("until"), "reason": item.get("reason")}))
            if (item.get("details") or {}).get("action") != "EXIT":  # an exit refused leaves a position open: told too
                continue
        if item.get("status") == OrderStatus.FAILED:
            who = f"{item.get('firm_code')} program {item.get('program_id')}"
            events.append(Notification(
                CONNECTOR_FAILED, f"{who}: order FAILED ({item.get('reason')}: {item.get('message')}) (trade {base['trade_id']})",
                {**base, "firm_code": item.get("firm_code"), "program_id": item.get("program_id"),
                 "reason": item.get("reason"), "message": item.get("message")}))
    return events


def events_for_reconciliation(order: Mapping[str, Any], status: str, note: str | None) -> list[Notification]:
    """What a reconciled order tells the trader (pure). `order`: the journal row's client_order_id,
    firm_code, program_id, trade_id, task_id and action; `status`: SUCCESS (found at the firm) or
    FAILED (not there); `note`: what settling a found exit at the firm reported.

    Nobody is waiting for these answers: the request that sent the order answered UNKNOWN long
    before. An exit that is not at the firm leaves the position open there (the router counts it
    open again); a found exit whose stop could not be cut leaves a stop whose fill opens the other
    side. Either needs the trader's hand, so each is a message, not only a log line.
    """
    who = f"{order.get('firm_code')} program {order.get('program_id')}"
    cid, trade_id = order.get("client_order_id"), order.get("trade_id")
    data = {"trade_id": trade_id, "task_id": order.get("task_id"), "firm_code": order.get("firm_code"),
            "program_id": order.get("program_id"), "client_order_id": cid}
    if status == OrderStatus.FAILED and order.get("action") == "EXIT":
        return [Notification(EXIT_NOT_AT_FIRM, f"{who}: exit {cid} (trade {trade_id}) was not at the firm - the position "
                                               f"is still open there and counted open again; close it or send the exit again",
                             data)]
    if note is not None and note.startswith(STOP_NOT_ADJUSTED):
        return [Notification(STOP_NOT_ADJUSTED, f"{who}: exit {cid} found by reconciliation, stop NOT adjusted - {note} "
                                                f"(trade {trade_id})", {**data, "message": note})]
    return []


def body_for(channel: str, note: Notification, telegram_chat_id: str | None) -> dict[str, Any]:
    """The JSON each receiver expects.
    Discord: https://discord.com/developers/docs/resources/webhook#execute-webhook (`content`)
    Slack: https://api.slack.com/messaging/webhooks (`text`)
    Telegram: https://core.telegram.org/bots/api#sendmessage (`chat_id`, `text`)"""
    text = f"[execution-router] {note.kind}: {note.text}"
    if channel == "discord":
        return {"content": text[:2000]}
    if channel == "slack":
        return {"text": text}
    if channel == "telegram":
        return {"chat_id": telegram_chat_id, "text": text[:4096]}
    return {"kind": note.kind, "text": text, **note.data}


class Notifier:
    """Bounded queue + one sender thread. `submit` never blocks and never raises."""

    def __init__(self, urls: Mapping[str, str], *, telegram_chat_id: str | None = None, max_queue: int = 100,
                 timeout: tuple[float, float] = (2.0, 3.0)):
        self._urls = dict(urls)
        self._chat_id = telegram_chat_id
        self._timeout = timeout
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._session = requests.Session()
        self.sent = 0
        self.dropped = 0
        self.failed = 0

    @property
    def enabled(self) -> bool:
        return bool(self._urls)

    def submit_result(self, result: Mapping[str, Any]) -> None:
        if self.enabled:
            for note in events_for_result(result):
                self.submit(note)

    def submit_reconciliation(self, order: Mapping[str, Any], status: str, note: str | None) -> None:
        """`connectors.reconcile.Reconciler`'s `on_outcome`."""
        if self.enabled:
            for event in events_for_reconciliation(order, status, note):
                self.submit(event)

    def submit(self, note: Notification) -> None:
        if not self.enabled:
            return
        self._ensure_thread()
        try:
            self._queue.put_nowait(note)
        except queue.Full:
            self.dropped += 1
            log.warning("notification queue full: dropped %s notification", note.kind)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the sender after the queued messages (bounded wait; for tests and shutdown)."""
        if self._thread is not None:
            try:
                self._queue.put(_STOP, timeout=timeout)
            except queue.Full:
                pass
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("notifier closed with %d message(s) still queued or being sent", self._queue.qsize())
        self._session.close()

    def _ensure_thread(self) -> None:
        # Started lazily: gunicorn forks workers after import, and threads do not survive a fork.
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            note = self._queue.get()
            if note is _STOP:
                return
            for channel, url in self._urls.items():
                try:
                    response = self._session.post(url, json=body_for(channel, note, self._chat_id), timeout=self._timeout)
                    if response.status_code >= 400:
                        self.failed += 1
                        log.warning("notification to %s answered HTTP %s", channel, response.status_code)
                    else:
                        self.sent += 1
                except requests.RequestException as exc:
                    self.failed += 1
                    log.warning("notification to %s failed: %s", channel, type(exc).__name__)
