"""A TCP proxy that drops every connection on command: PostgreSQL "restarting", for tests.

`with TcpProxy(("127.0.0.1", 5432)) as proxy:` listens on 127.0.0.1:<free port> and pipes
bytes both ways, one thread per direction. `proxy.cut(refuse_for=s)` closes every open
connection at once (each side sees its peer vanish, as when the server restarts) and, for
`s` seconds, closes each new connection as soon as it is accepted (the server still down).
`database_through(proxy)` sends the default database's new connections, in every thread,
through the proxy.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager

from django.db import connections


class TcpProxy:
    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.accepted = 0  # connections piped to the upstream
        self.refused = 0  # connections closed at once while down
        self.cuts = 0  # times cut() was called
        self.dropped = 0  # open connections closed by cut()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._closing = False
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._closing = True
        self._thread.join(timeout=5)
        self._listener.close()
        self._drop_all()

    def cut(self, *, refuse_for: float = 0.0) -> int:
        """Drop every open connection; refuse new ones for `refuse_for` seconds."""
        with self._lock:
            self.cuts += 1
            self._down_until = time.monotonic() + refuse_for
        dropped = self._drop_all()
        with self._lock:
            self.dropped += dropped
        return dropped

    def refuse(self, seconds: float) -> None:
        """Refuse new connections for `seconds`, leaving open ones alone."""
        with self._lock:
            self._down_until = time.monotonic() + seconds

    def restore(self) -> None:
        with self._lock:
            self._down_until = 0.0

    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.setblocking(True)
            with self._lock:
                down = time.monotonic() < self._down_until
                if down:
                    self.refused += 1
            if down:
                _close(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            pair = (client, server)
            with self._lock:
                self._pairs.add(pair)
                self.accepted += 1
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, target, pair),
                                 daemon=True).start()

    def _pipe(self, source, target, pair) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(pair)

    def _drop(self, pair) -> bool:
        with self._lock:
            if pair not in self._pairs:
                return False
            self._pairs.discard(pair)
        for sock in pair:
            _close(sock)
        return True

    def _drop_all(self) -> int:
        with self._lock:
            pairs = list(self._pairs)
        return sum(self._drop(pair) for pair in pairs)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def upstream_of_default_database() -> tuple[str, int]:
    settings_dict = connections["default"].settings_dict
    return settings_dict["HOST"] or "127.0.0.1", int(settings_dict["PORT"] or 5432)


@contextmanager
def database_through(proxy: TcpProxy):
    """Inside, every new connection of the default database (any thread) goes via `proxy`.

    The settings dict is shared by every thread's connection object; the calling thread's
    connection is closed on the way in and out, so it reconnects to the right place.
    """
    settings_dict = connections["default"].settings_dict
    saved = settings_dict["HOST"], settings_dict["PORT"]
    connections["default"].close()
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", proxy.port
    try:
        yield proxy
    finally:
        connections["default"].close()
        settings_dict["HOST"], settings_dict["PORT"] = saved
