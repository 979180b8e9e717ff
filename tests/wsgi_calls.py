"""Requests through Django's WSGI handler, the way a server thread makes them.

django.test.Client switches off `close_old_connections` around its requests, so a
connection broken by a fault would stay broken in that thread for ever. Here
request_started and request_finished fire as under gunicorn: a kept connection
(CONN_MAX_AGE) is health-checked before reuse and closed after an error that
left it unusable.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

from django.core.handlers.wsgi import WSGIHandler

_handler = None


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def call(method: str, path: str, *, body: bytes = b"", headers: dict | None = None) -> Answer:
    global _handler
    if _handler is None:
        _handler = WSGIHandler()
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(), "wsgi.multithread": True, "wsgi.multiprocess": False,
        "wsgi.run_once": False, "wsgi.version": (1, 0),
        "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json",
    }
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE",) else f"HTTP_{key}"] = value
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started["status"] = int(status.split()[0])
        started["headers"] = dict(response_headers)

    result = _handler(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        result.close()  # sends request_finished, as a WSGI server does
    return Answer(started["status"], started["headers"], content)
