"""The local API's HTTP server: HTTP/1.1 in front of `ApiGateway` (which does all the API Gateway work)."""

from __future__ import annotations

import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local_stack.apigw import MAX_PAYLOAD_BYTES, REQUEST_TOO_LARGE, ApiGateway, ProxyResponse, gateway_response
from local_stack.console import REQUEST_LOGGER, request_line

LOG = logging.getLogger(REQUEST_LOGGER)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Connections waiting to be accepted (socketserver's default is 5): bursts of clients must not be refused.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], gateway: ApiGateway) -> None:
        self.gateway = gateway
        super().__init__(address, _RequestHandler)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "local-apigw"
    sys_version = ""
    timeout = 120  # idle keep-alive connections
    server: _Server

    def _read_body(self) -> bytes | None:
        """The request body; None (after answering 413 or 400) when it cannot be read."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            size = 0
            while True:
                line = self.rfile.readline(65537)
                length = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if length == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                size += length
                if size > MAX_PAYLOAD_BYTES:
                    self._too_large()
                    return None
                chunks.append(self.rfile.read(length))
                self.rfile.readline(65537)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.send_error(400, "Bad Content-Length")
            return None
        if length > MAX_PAYLOAD_BYTES:
            self._too_large()
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _too_large(self) -> None:
        self.close_connection = True
        api = self.server.gateway.default_api()
        self._send(gateway_response(REQUEST_TOO_LARGE, api, request_id="-"))

    def _dispatch(self) -> None:
        started = time.monotonic()
        body = self._read_body()
        if body is None:
            return
        try:
            response = self.server.gateway.handle(
                self.command,
                self.path,
                list(self.headers.items()),
                body,
                source_ip=self.client_address[0],
                forwarded_port=self.server.server_address[1],
            )
        except Exception:
            LOG.exception("local API failure on %s %s", self.command, self.path)
            response = ProxyResponse(500, [("Content-Type", "application/json")], b'{"message":"local stack failure"}')
        # Logged before the answer goes out: a client that has its answer finds the line written.
        function = self.server.gateway.function_for(self.command, self.path)
        milliseconds = (time.monotonic() - started) * 1000
        LOG.info("%s", request_line(self.command, self.path, response.status, milliseconds, function))
        self._send(response)

    def _send(self, response: ProxyResponse) -> None:
        self.send_response_only(response.status)
        skip = {"content-length", "connection", "transfer-encoding", "date"}
        for name, value in response.headers:
            if name.lower() not in skip:
                self.send_header(name, value)
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug(format, *args)


class LocalApiServer:
    """A threading HTTP server on (host, port) serving the template's API; port 0 picks a free one."""

    def __init__(self, gateway: ApiGateway, host: str = "127.0.0.1", port: int = 3000) -> None:
        self._server = _Server((host, port), gateway)  # binds now: a busy port fails here, clearly
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> str:
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-api", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
