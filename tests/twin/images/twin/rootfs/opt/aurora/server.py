#!/usr/bin/env python3
"""Twin stand-in for the Aurora Next.js app: HTTP on $HOSTNAME:$PORT (127.0.0.1:3000).
GET / answers 200 with a small page; GET /api/health reports whether the database
(aurora-postgres:5432 on the twin network) accepts TCP connections."""
import json
import os
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = b"<!doctype html><html><head><title>Aurora</title></head>" \
       b"<body><h1>Aurora marketplace</h1></body></html>\n"


def db_up():
    try:
        with socket.create_connection(("aurora-postgres", 5432), timeout=1):
            return True
    except OSError:
        return False


class Handler(BaseHTTPRequestHandler):
    server_version = "aurora/twin"

    def _reply(self, code, ctype, data, head):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _route(self, head):
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._reply(200, "text/html; charset=utf-8", PAGE, head)
        elif path == "/api/health":
            ok = db_up()
            body = json.dumps({"ok": ok, "db": "up" if ok else "down"}).encode()
            self._reply(200 if ok else 503, "application/json", body, head)
        else:
            self._reply(404, "text/plain", b"not found\n", head)

    def do_GET(self):
        self._route(False)

    def do_HEAD(self):
        self._route(True)

    def log_message(self, fmt, *args):
        print("aurora: %s %s" % (self.address_string(), fmt % args), flush=True)


def main():
    host = os.environ.get("HOSTNAME", "127.0.0.1")
    port = int(os.environ.get("PORT", "3000"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    httpd = ThreadingHTTPServer((host, port), Handler)
    print(f"aurora: ready on http://{host}:{port}", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
