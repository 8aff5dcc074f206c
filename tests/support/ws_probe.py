#!/usr/bin/python3
"""ws_probe.py - what a third-party WebSocket client (Debian's python3-websockets)
makes of roomd's answer to an upgrade, for tests/integration/test_http_refusals.c.

Usage: ws_probe.py URL [ORIGIN]

Connects twice with the websockets library, never with our own code:
  1. websockets.connect() (the asyncio client apps use): did the handshake
     succeed, and if not, which status code did the library read
     (InvalidStatusCode.status_code), or which error did it raise;
  2. the library's sans-I/O ClientConnection over a plain socket, which
     keeps the whole refusal (status, headers, body) in InvalidStatus.
Prints one JSON object: {"legacy_status", "legacy_error", "status", "reason",
"headers" (lower-case names), "body", "error"}. Exit 0 whatever the answer.
"""
import asyncio
import json
import socket
import sys

import websockets
from websockets.client import ClientConnection
from websockets.exceptions import InvalidStatus, InvalidStatusCode
from websockets.http11 import Response
from websockets.uri import parse_uri


async def legacy(url, origin):
    try:
        async with websockets.connect(url, origin=origin, open_timeout=5):
            return 101, None
    except InvalidStatusCode as e:
        return e.status_code, None
    except Exception as e:  # what an app would see instead of a status
        return None, f"{type(e).__name__}: {e}"


def sans_io(url, origin):
    uri = parse_uri(url)
    conn = ClientConnection(uri, origin=origin)
    out = {"status": None, "reason": None, "headers": {}, "body": None, "error": None}
    with socket.create_connection((uri.host, uri.port), timeout=5) as sock:
        conn.send_request(conn.connect())
        for chunk in conn.data_to_send():
            sock.sendall(chunk)
        response = None
        while response is None:
            data = sock.recv(65536)
            try:
                if data:
                    conn.receive_data(data)
                else:
                    conn.receive_eof()
            except Exception as e:  # 10.4 lets a parse error escape here
                out["error"] = f"{type(e).__name__}: {e}"
                return out
            for ev in conn.events_received():
                if isinstance(ev, Response):
                    response = ev
            if not data and response is None:
                break
    if response is None:
        exc = conn.handshake_exc
        out["error"] = f"{type(exc).__name__}: {exc}" if exc else "no response"
        return out
    out["status"] = response.status_code
    out["reason"] = response.reason_phrase
    out["headers"] = {k.lower(): v for k, v in response.headers.raw_items()}
    if response.body is not None:
        out["body"] = response.body.decode("utf-8", "replace")
    if conn.handshake_exc and not isinstance(conn.handshake_exc, InvalidStatus):
        out["error"] = f"{type(conn.handshake_exc).__name__}: {conn.handshake_exc}"
    return out


def main():
    if len(sys.argv) not in (2, 3):
        print("usage: ws_probe.py URL [ORIGIN]", file=sys.stderr)
        return 2
    url = sys.argv[1]
    origin = sys.argv[2] if len(sys.argv) == 3 else None
    status, err = asyncio.run(legacy(url, origin))
    out = sans_io(url, origin)
    out["legacy_status"] = status
    out["legacy_error"] = err
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
