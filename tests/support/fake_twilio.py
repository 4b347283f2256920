"""A stand-in for Twilio's REST API (the Calls and Messages resources) on 127.0.0.1: it records every request
Careline makes.

Calls.json creates a call (a new ``CA…`` sid, status queued); Calls/{sid}.json updates one (a redirect or a
hang-up). A sid marked ``gone`` answers 404 with Twilio's code 20404, one marked ``failing`` answers 500.
Messages.json sends a text (a new ``SM…`` sid, status queued); a number in ``unsubscribed`` answers 400 with
Twilio's code 21610 (the recipient replied STOP).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs
from uuid import uuid4

CREATE = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC\w+)/Calls\.json$")
UPDATE = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC\w+)/Calls/(?P<sid>CA\w+)\.json$")
MESSAGES = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC\w+)/Messages\.json$")


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    values: dict[str, list[str]] = field(default_factory=dict)

    @property
    def form(self) -> dict[str, str]:
        """Each parameter's first value (Twilio's create repeats StatusCallbackEvent; see ``values``)."""
        return {name: items[0] for name, items in self.values.items()}


class FakeTwilio:
    def __init__(self, account_sid: str) -> None:
        self.account_sid = account_sid
        self.requests: list[Recorded] = []
        self.created: list[str] = []  # sids handed out, in order
        self.gone: set[str] = set()
        self.failing: set[str] = set()
        self.unsubscribed: set[str] = set()  # numbers whose texts Twilio refuses with 21610
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-twilio", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def calls_path(self, sid: str | None = None) -> str:
        base = f"/2010-04-01/Accounts/{self.account_sid}/Calls"
        return f"{base}/{sid}.json" if sid else f"{base}.json"

    def messages_path(self) -> str:
        return f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    def to(self, path: str) -> list[Recorded]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeTwilio:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _answer(self, method: str, path: str, values: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(Recorded(method, path, values))
        form = {name: items[0] for name, items in values.items()}
        if method == "POST" and (match := CREATE.match(path)):
            sid = "CA" + uuid4().hex
            with self._lock:
                self.created.append(sid)
            return 201, {"sid": sid, "account_sid": match["account"], "status": "queued", "to": form.get("To"),
                         "from": form.get("From"), "direction": "outbound-api", "api_version": "2010-04-01"}
        if method == "POST" and (match := MESSAGES.match(path)):
            return self._text(match["account"], form)
        if method == "POST" and (match := UPDATE.match(path)):
            sid = match["sid"]
            if sid in self.gone:
                return 404, {"code": 20404, "message": f"The requested resource {path} was not found",
                             "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404}
            if sid in self.failing:
                return 500, {"code": 20500, "message": "Internal Server Error",
                             "more_info": "https://www.twilio.com/docs/errors/20500", "status": 500}
            return 200, {"sid": sid, "account_sid": match["account"], "status": form.get("Status", "in-progress")}
        return 404, {"code": 20404, "message": "Not found", "status": 404}

    def _text(self, account: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("To") in self.unsubscribed:
            return 400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient",
                         "more_info": "https://www.twilio.com/docs/errors/21610", "status": 400}
        sid = "SM" + uuid4().hex
        with self._lock:
            self.created.append(sid)
        return 201, {"sid": sid, "account_sid": account, "status": "queued", "to": form.get("To"),
                     "from": form.get("From"), "messaging_service_sid": form.get("MessagingServiceSid"),
                     "body": form.get("Body"), "direction": "outbound-api", "api_version": "2010-04-01"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self._reply("POST")

            def do_GET(self) -> None:
                self._reply("GET")

            def _reply(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                status, payload = fake._answer(method, self.path.split("?")[0], parse_qs(body))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
