"""A local HTTP server that answers like the Gemini API's generateContent, following a script."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def reply(text: str) -> dict:
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 260, "totalTokenCount": 270},
    }


class FakeGemini:
    """Each request takes the next step of `script`: ("ok", text), ("empty",), ("status", code),
    ("malformed",) or ("slow", seconds, text); when the script is used up, ("ok", "DEFAULT TEXT")."""

    def __init__(self) -> None:
        self.script: list[tuple] = []
        self.requests: list[dict] = []
        self.connections = 0  # TCP connections accepted, requests or not
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def setup(self) -> None:
                with server._lock:
                    server.connections += 1
                super().setup()

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with server._lock:
                    server.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": json.loads(body or b"{}")}
                    )
                    step = server.script.pop(0) if server.script else ("ok", "DEFAULT TEXT")
                server.answer(self, step)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, handler: BaseHTTPRequestHandler, step: tuple) -> None:
        kind = step[0]
        if kind == "slow":
            time.sleep(step[1])
            step = ("ok", step[2])
            kind = "ok"
        if kind == "status":
            code = step[1]
            status = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 403: "PERMISSION_DENIED"}.get(code, "UNKNOWN")
            self._send(
                handler,
                code,
                json.dumps({"error": {"code": code, "message": f"scripted {code}", "status": status}}).encode(),
            )
        elif kind == "malformed":
            self._send(handler, 200, b'{"candidates": [{"content": ')
        elif kind == "empty":
            self._send(handler, 200, json.dumps(reply("")).encode())
        else:
            self._send(handler, 200, json.dumps(reply(step[1])).encode())

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, code: int, body: bytes) -> None:
        try:
            handler.send_response(code)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
