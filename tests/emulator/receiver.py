"""A webhook receiver for the emulator's delivery tests: records what it is sent, answers chosen statuses."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import stripe


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def event(self, secret: str) -> stripe.Event:
        """The event, verified as a receiver would: the real SDK, the raw body, the signature header."""
        return stripe.Webhook.construct_event(self.body, self.headers["stripe-signature"], secret)


class Receiver:
    """A webhook receiver on a free port: records every request and answers the statuses it is given,
    in order, then ``200``; ``hold()`` makes it wait before answering until ``release()``."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._statuses: list[int] = []
        self._gate = threading.Event()
        self._gate.set()
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                with receiver._arrived:
                    receiver.received.append(Received(self.command, self.path, headers, body))
                    status = receiver._statuses.pop(0) if receiver._statuses else 200
                    receiver._arrived.notify_all()
                receiver._gate.wait(10)
                try:
                    self.send_response(status)
                    if 300 <= status < 400:
                        self.send_header("Location", "/elsewhere")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the emulator gave up waiting

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/stripe/webhook"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def respond_with(self, *statuses: int) -> None:
        with self._arrived:
            self._statuses.extend(statuses)

    def hold(self) -> None:
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        with self._arrived:
            assert self._arrived.wait_for(lambda: len(self.received) >= count, timeout), self.received
            return list(self.received)

    def events(self, secret: str) -> list[stripe.Event]:
        return [request.event(secret) for request in self.received]

    def close(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()


def closed_port_url() -> str:
    """A URL nothing listens on: every attempt is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/stripe/webhook"
