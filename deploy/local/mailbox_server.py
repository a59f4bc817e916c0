"""Local stand-in for Mailpit where no container registry is reachable: an SMTP server
(aiosmtpd, no authentication) that keeps every message as a file under MAIL_DIR, and
the part of Mailpit's HTTP API that the compose checks read:

- ``GET /livez``: 200 when serving;
- ``GET /api/v1/messages``: ``{"total", "messages": [{"ID", "From", "To", "Subject",
  "Created"}]}``, newest first;
- ``GET /api/v1/message/<ID>``: the summary plus ``"Text"`` and ``"HTML"``.

SMTP_PORT (1025) and HTTP_PORT (8025) and BIND (0.0.0.0) choose where it listens.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import threading
import time
import uuid
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

MAIL_DIR = Path(os.environ.get("MAIL_DIR", "/data"))
BIND = os.environ.get("BIND", "0.0.0.0")


def _addresses(value: str | None) -> list[dict[str, str]]:
    return [{"Name": n, "Address": a} for n, a in email.utils.getaddresses([value or ""]) if a]


def _load(path: Path, full: bool) -> dict[str, Any]:
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    froms = _addresses(msg["From"])
    out: dict[str, Any] = {
        "ID": path.stem.split("-", 1)[1],
        "MessageID": str(msg["Message-ID"] or ""),
        "From": froms[0] if froms else {},
        "To": _addresses(msg["To"]),
        "Subject": str(msg["Subject"] or ""),
        "Created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(path.stat().st_mtime)),
    }
    if full:
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        out["Text"] = text.get_content() if text is not None else ""
        out["HTML"] = html.get_content() if html is not None else ""
    return out


def _files() -> list[Path]:
    return sorted(MAIL_DIR.glob("*.eml"), reverse=True)


class Handler:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex}"
        tmp = MAIL_DIR / f".{name}.tmp"
        tmp.write_bytes(envelope.original_content or envelope.content)
        tmp.rename(MAIL_DIR / f"{name}.eml")
        return "250 Message accepted for delivery"


class Api(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path in ("/livez", "/readyz"):
            self._send(200, "ok")
        elif path == "/api/v1/messages":
            files = _files()
            self._send(200, {"total": len(files), "messages": [_load(p, False) for p in files]})
        elif path.startswith("/api/v1/message/"):
            wanted = path.rsplit("/", 1)[1]
            for p in _files():
                if p.stem.endswith(f"-{wanted}"):
                    self._send(200, _load(p, True))
                    return
            self._send(404, "not found")
        else:
            self._send(404, "not found")


def main() -> None:
    MAIL_DIR.mkdir(parents=True, exist_ok=True)
    smtp = Controller(Handler(), hostname=BIND, port=int(os.environ.get("SMTP_PORT", "1025")))
    smtp.start()
    http = ThreadingHTTPServer((BIND, int(os.environ.get("HTTP_PORT", "8025"))), Api)
    print(f"mailbox: SMTP {BIND}:{smtp.port}, HTTP {BIND}:{http.server_port}", flush=True)
    try:
        http.serve_forever()
    finally:
        smtp.stop()


if __name__ == "__main__":
    threading.current_thread().name = "mailbox"
    main()
