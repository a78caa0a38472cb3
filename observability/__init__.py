"""Operator-facing observability: JSON logs with task context, Prometheus metrics, notifications.

Everything here *observes* finished work; nothing in it can change a routing decision, and a
failure in it (a full notification queue, an unreachable receiver) never fails a request.
"""
