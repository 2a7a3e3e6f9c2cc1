"""A loopback HTTP server for download tests: 127.0.0.1 only, bounded in time, and able to cut off.

`serve(files)` serves a dict of URL path -> bytes. Its `mode` can be switched while it runs:
'good' sends each file whole; 'cut' sends a Content-Length and then closes the connection
half-way (the client can tell it is short); 'cut-unsized' sends no length and closes half-way
(the client cannot tell; only the file's own check or hash can); 'stall' sends half and then
nothing, keeping the connection open (only a timeout can tell). It stops by itself after
`lifetime` seconds if a test forgets to.

It also answers POST and PUT requests, as an API does: `server.routes[path]` is a list of
`Reply`s given in turn, the last one again and again; `server.posts` records each request's
path, headers and body. A path with no route answers 404.
"""
import contextlib
import http.server
import json
import threading
from dataclasses import dataclass, field


@dataclass
class Reply:
    """One answer: a status, a body (bytes, or a dict sent as JSON) and headers; `cut` closes the
    connection half-way through a body whose full length was announced."""

    status: int = 200
    body: object = b""
    headers: dict = field(default_factory=dict)
    cut: bool = False

    def payload(self):
        return json.dumps(self.body).encode() if isinstance(self.body, dict) else bytes(self.body)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: closing it ends the body

    def do_GET(self):
        body = self.server.files.get(self.path)
        self.server.requests.append(self.path)
        if body is None:
            self.send_error(404, "File not found")
            return
        mode = self.server.mode
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if mode != "cut-unsized":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body if mode == "good" else body[:len(body) // 2])
        self.wfile.flush()
        if mode == "stall":
            self.server.stopping.wait(30)  # a dropped link: no more bytes, no close
        self.close_connection = True

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append(self.path)
        self.server.posts.append((self.path, dict(self.headers), body))
        replies = self.server.routes.get(self.path)
        if not replies:
            self.send_error(404, "No such route")
            return
        reply = replies.pop(0) if len(replies) > 1 else replies[0]
        payload = reply.payload()
        self.send_response(reply.status)
        headers = {"Content-Type": "application/json" if isinstance(reply.body, dict)
                   else "application/octet-stream", "Content-Length": str(len(payload)),
                   **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload[:len(payload) // 2] if reply.cut else payload)
        self.wfile.flush()
        self.close_connection = True

    do_PUT = do_POST

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    """The running server: `url(path)`, `mode` to switch, `routes` to answer, `requests` seen."""
    daemon_threads = True

    def url(self, path):
        return f"http://127.0.0.1:{self.server_port}{path}"


@contextlib.contextmanager
def serve(files, mode="good", lifetime=120, routes=None):
    """Serve `files` (path -> bytes) in `mode`, and `routes` (path -> [Reply, ...]) to POST and
    PUT, on 127.0.0.1 for at most `lifetime` seconds."""
    server = Server(("127.0.0.1", 0), _Handler)
    server.files, server.mode, server.requests = dict(files), mode, []
    server.routes, server.posts = dict(routes or {}), []
    server.stopping = threading.Event()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    stop = threading.Timer(lifetime, server.shutdown)  # bounded even if the test hangs
    stop.daemon = True
    stop.start()
    try:
        yield server
    finally:
        stop.cancel()
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
