"""A loopback HTTP server for download tests: 127.0.0.1 only, bounded in time, and able to cut off.

`serve(files)` serves a dict of URL path -> bytes. Its `mode` can be switched while it runs:
'good' sends each file whole; 'cut' sends a Content-Length and then closes the connection
half-way (the client can tell it is short); 'cut-unsized' sends no length and closes half-way
(the client cannot tell; only the file's own check or hash can); 'stall' sends half and then
nothing, keeping the connection open (only a timeout can tell). It stops by itself after
`lifetime` seconds if a test forgets to.
"""
import contextlib
import http.server
import threading


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

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    """The running server: `url(path)`, `mode` to switch, `requests` seen."""
    daemon_threads = True

    def url(self, path):
        return f"http://127.0.0.1:{self.server_port}{path}"


@contextlib.contextmanager
def serve(files, mode="good", lifetime=120):
    """Serve `files` (path -> bytes) on 127.0.0.1 in `mode` for at most `lifetime` seconds."""
    server = Server(("127.0.0.1", 0), _Handler)
    server.files, server.mode, server.requests = dict(files), mode, []
    server.stopping = threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
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
