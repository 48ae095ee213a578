"""`mmcf serve`: a small read-only HTTP service over one trained model (standard library only).

    GET  /                 the page: type a title, search and add seed tracks, see the continuation
    GET  /health           {"status": "ok", "model": KIND, "tracks": N}
    GET  /tracks?q=&limit= tracks whose name or artist contains q, most popular first
    POST /recommend        {"title"?, "tracks"?, "n"?}
                           → {"tracks": [{"uri", "name", "artist", "score"}, …]}

Errors are JSON {"error": "..."} with a 4xx status; an unexpected failure is logged here and
answered with a bare 500, never a traceback.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import ujson

from mmcf.mpd.errors import UserError

from .service import MAX_BODY, RequestError, Service
from .pipeline.loading import choose_kind, load_model

log = logging.getLogger(__name__)
ROUTES = {"/": "GET", "/health": "GET", "/tracks": "GET", "/recommend": "POST"}
DISCARD_LIMIT = (
    16 * MAX_BODY
)  # bytes of a refused body read and dropped so the client sees the answer
JSON, HTML = "application/json; charset=utf-8", "text/html; charset=utf-8"


@dataclass
class ServeConfig:
    model_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    kind: str | None = None  # default: the ensemble if trained, else the only model trained


@lru_cache(maxsize=1)
def page() -> bytes:
    return resources.files(__package__).joinpath("static/index.html").read_bytes()


class Handler(BaseHTTPRequestHandler):
    """Routes requests to the Service;
    every answer, error or not, has a length and a JSON or HTML body."""

    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = "mmcf"
    timeout = 30  # seconds a silent connection may hold a thread
    # headers and body are two writes: Nagle + delayed ACK would hold the second one back
    disable_nagle_algorithm = True
    service: Service  # set on the subclass `make_server` builds

    def do_GET(self) -> None:
        self.dispatch("GET")

    def do_POST(self) -> None:
        self.dispatch("POST")

    def __getattr__(self, name: str):
        if name.startswith(
            "do_"
        ):  # any other method (HEAD, PUT, DELETE, …): dispatch answers or says 405
            return lambda: self.dispatch(name[3:])
        raise AttributeError(name)

    def dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        self.body_read = False
        try:
            if url.path not in ROUTES:
                raise RequestError(f"no such path {url.path!r} (paths: {', '.join(ROUTES)})", 404)
            if method != ROUTES[url.path] and (method, ROUTES[url.path]) != ("HEAD", "GET"):
                raise RequestError(
                    f"{method} is not allowed on {url.path}; use {ROUTES[url.path]}", 405
                )
            status, body, kind = 200, *self.answer(url.path, url.query)
        except UserError as exc:  # RequestError, or a query the model cannot use
            status, body, kind = getattr(exc, "status", 400), _json({"error": str(exc)}), JSON
        except Exception:
            log.exception("%s %s failed", method, self.path)
            status, body, kind = (
                500,
                _json({"error": "internal error (logged by the server)"}),
                JSON,
            )
        self.send(status, body, kind)

    def answer(self, path: str, query: str) -> tuple[bytes, str]:
        if path == "/":
            return page(), HTML
        if path == "/health":
            return _json(self.service.health()), JSON
        if path == "/tracks":
            return _json(self.service.tracks(parse_qs(query, keep_blank_values=True))), JSON
        return _json(self.service.recommend(self.read_body())), JSON

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise RequestError(
                "body: chunked transfer is not supported; send a Content-Length", 411
            )
        raw = self.headers.get("Content-Length")
        if raw is None:
            raise RequestError("body: a Content-Length header is required", 411)
        if not raw.strip().isdigit():
            raise RequestError(f"body: bad Content-Length {raw!r}")
        if int(raw) > MAX_BODY:
            raise RequestError(f"body: {int(raw)} bytes, more than the {MAX_BODY} allowed", 413)
        self.body_read = True
        return self.rfile.read(int(raw))

    def send(self, status: int, body: bytes, kind: str) -> None:
        refused = status >= 400 and not self.body_read and self.has_body()
        if refused:
            self.close_connection = True  # the unread body would be taken for the next request
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if status == 405:
            self.send_header("Allow", ROUTES[urlsplit(self.path).path])
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        if refused:
            self.discard_body()

    def discard_body(self) -> None:
        """Read (up to a bound) what the client is still sending: closing on unread data resets the
        connection, and a client still writing its body would never see this answer."""
        self.wfile.flush()
        raw = self.headers.get("Content-Length", "").strip()
        left = min(int(raw) if raw.isdigit() else 0, DISCARD_LIMIT)
        try:
            while left > 0 and (chunk := self.rfile.read1(min(left, 1 << 16))):
                left -= len(chunk)
        except OSError:
            pass

    def has_body(self) -> bool:
        return (
            bool(self.headers.get("Transfer-Encoding"))
            or self.headers.get("Content-Length", "0").strip() != "0"
        )

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors http.server finds itself (bad request line,
        headers too long): JSON too, then close."""
        self.close_connection = True
        self.body_read = True
        self.command = getattr(self, "command", None) or ""
        self.send(code, _json({"error": message or HTTPStatus(code).phrase}), JSON)

    def log_message(self, format: str, *args) -> None:
        log.info("%s %s", self.address_string(), format % args)


def _json(data: dict) -> bytes:
    return ujson.dumps(data, ensure_ascii=False, escape_forward_slashes=False).encode("utf-8")


class Server(ThreadingHTTPServer):
    request_queue_size = 128  # 32 clients connecting at once must not overflow the backlog


def make_server(config: ServeConfig) -> Server:
    """Load the model once and bind; port 0 picks a free port (server.server_address has it)."""
    kind = choose_kind(config.model_dir, config.kind)
    service = Service(load_model(config.model_dir, kind), kind)
    handler = type("ServiceHandler", (Handler,), {"service": service})
    try:
        return Server((config.host, config.port), handler)
    except OSError as exc:
        raise UserError(
            f"cannot listen on {config.host}:{config.port} ({exc.strerror or exc})"
        ) from None


def serve(config: ServeConfig) -> None:
    """Serve until interrupted (Ctrl-C)."""
    server = make_server(config)
    host, port = server.server_address[:2]
    service = server.RequestHandlerClass.service
    print(
        f"serving the '{service.kind}' model ({service.model.vocab.n_tracks} tracks) "
        f"on http://{host}:{port}/ (Ctrl-C stops)",
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
