"""JSON error responses: every 4xx/5xx names what is wrong, never an HTML page or a traceback."""
from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException


def error_response(status: int, error: str, message: str, fields: dict[str, str] | None = None, **extra: Any):
    body: dict[str, Any] = {"error": error, "message": message}
    if fields:
        body["fields"] = fields
    body.update(extra)
    return jsonify(body), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if exc.code == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            return error_response(413, "payload_too_large", f"Request body is larger than {limit} bytes.")
        name = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, name, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error")
        return error_response(500, "internal_error", "The request could not be processed; it was logged.")
