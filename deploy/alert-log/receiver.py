"""Alertmanager webhook receiver that logs: one JSON line per alert on stdout.

The default receiver of deploy/alertmanager.yml, so alert routing works with no internet
(`docker compose logs -f alert-log`). Standard library only; listens on ALERT_LOG_PORT (9095).
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            alerts = body["alerts"]
        except (ValueError, KeyError, TypeError) as error:
            self.send_error(400, f"not an Alertmanager webhook payload: {error}")
            return
        for alert in alerts:
            line = {
                "status": alert.get("status"),
                "alertname": alert.get("labels", {}).get("alertname"),
                "severity": alert.get("labels", {}).get("severity"),
                "labels": alert.get("labels", {}),
                "summary": alert.get("annotations", {}).get("summary"),
                "startsAt": alert.get("startsAt"),
                "endsAt": alert.get("endsAt"),
            }
            print(json.dumps(line, sort_keys=True), flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per alert, not per request


def main() -> None:
    port = int(os.environ.get("ALERT_LOG_PORT", "9095"))
    server = ThreadingHTTPServer(("0.0.0.0", port), Receiver)
    print(json.dumps({"listening": port}), file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
