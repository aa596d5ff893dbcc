#!/usr/bin/env python3
"""An Alertmanager test alert reaches a level-2 WebSocket through the staging proxy
(used by scripts/ci-ops.sh).

Logs a level-2 user in through the proxy, opens a WebSocket through the proxy with a ticket, posts
scripts/lib/test_alert.json to the webhook route with the secret, and waits for the `alert` frame.
Prints PASS/FAIL; exit 1 on failure. Needs the `websockets` package (any version from 10 on).
"""

import argparse
import asyncio
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import websockets


def http(method, url, body=None, token=None, form=False):
    headers = {}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


async def ws_connect(uri):
    return await websockets.connect(uri, open_timeout=10)


async def main():
    ap = argparse.ArgumentParser()
    for k in ("proxy", "user", "password", "secret", "payload"):
        ap.add_argument(f"--{k}", required=True)
    a = ap.parse_args()

    st, body = http("POST", f"{a.proxy}/api/v1/auth/login", {"username": a.user, "password": a.password}, form=True)
    if st != 200:
        raise RuntimeError(f"login through the proxy: {st} {body}")
    token = json.loads(body)["access_token"]
    st, body = http("POST", f"{a.proxy}/api/v1/ws/ticket", {}, token=token)
    if st != 201:
        raise RuntimeError(f"ws ticket through the proxy: {st} {body}")
    ticket = json.loads(body)["ticket"]
    ws = await ws_connect(a.proxy.replace("http://", "ws://", 1) + "/ws/connect?ticket=" + ticket)
    first = json.loads(await asyncio.wait_for(ws.recv(), 5))
    if first.get("event_type") != "connection_ack":
        raise RuntimeError(f"first frame is not connection_ack: {first}")
    if (first.get("data") or {}).get("nivel") not in (2, "2", "LEVEL_2", None):
        print(f"note: connection_ack data {first.get('data')}")

    with open(a.payload) as f:
        payload = json.load(f)
    name = payload["alerts"][0]["labels"]["alertname"]
    t0 = time.monotonic()
    st, body = http("POST", f"{a.proxy}/api/v1/alerts/alertmanager", payload, token=a.secret)
    if st != 200:
        raise RuntimeError(f"webhook through the proxy: {st} {body}")
    while time.monotonic() - t0 < 5:
        try:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 5 - (time.monotonic() - t0)))
        except asyncio.TimeoutError:
            break
        if frame.get("event_type") == "alert" and (frame.get("data") or {}).get("alertname") == name:
            d = frame["data"]
            print(
                f"PASS Alertmanager test alert posted through the proxy reached a level-2 WebSocket "
                f"(through the proxy) as an `alert` after {(time.monotonic() - t0) * 1000:.0f} ms: "
                f"level {d.get('level')}, title {d.get('title')!r}"
            )
            await ws.close()
            return 0
    await ws.close()
    print(f"FAIL the level-2 socket received no `alert` for {name} within 5 s")
    return 1


if __name__ == "__main__":
    try:
        rc = asyncio.run(main())
    except Exception as e:  # noqa: BLE001 — any crash is a failed check with its reason
        print(f"FAIL alert probe: {type(e).__name__}: {e}")
        rc = 1
    sys.exit(rc)
