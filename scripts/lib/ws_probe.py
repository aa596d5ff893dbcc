#!/usr/bin/env python3
"""WebSocket events crossing instances (used by scripts/two-instances.sh).

Opens two sockets THROUGH the proxy (an admin and a level-1 user) until they sit on different
instances (checked on each instance's own /metrics `ws_connections_active`), then posts an admin
broadcast DIRECTLY to one instance and asserts that each socket receives it exactly once within
the timeout — once for the socket on the other instance (Redis fan-out), once for the local one —
and the same in the opposite direction. Prints PASS/FAIL lines; exit 1 if any check fails.
Needs the `websockets` package (any version from 10 on).
"""

import argparse
import asyncio
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import websockets

FAILS = 0


def ok(msg):
    print(f"PASS {msg}", flush=True)


def bad(msg):
    global FAILS
    FAILS += 1
    print(f"FAIL {msg}", flush=True)


class Probe:
    def __init__(self, args):
        self.args = args
        self.headers = {"X-Forwarded-For": args.client_ip}

    def http(self, method, url, body=None, token=None, form=False):
        headers = dict(self.headers)
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

    def login(self, email, password):
        st, body = self.http(
            "POST",
            f"{self.args.proxy}/api/v1/auth/login",
            {"username": email, "password": password},
            form=True,
        )
        if st != 200:
            raise RuntimeError(f"login {email} through the proxy: {st} {body}")
        return json.loads(body)["access_token"]

    def ticket(self, token):
        st, body = self.http("POST", f"{self.args.proxy}/api/v1/ws/ticket", {}, token=token)
        if st != 201:
            raise RuntimeError(f"ws ticket through the proxy: {st} {body}")
        return json.loads(body)["ticket"]

    def ws_active(self, base):
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("ws_connections_active"):
                    return int(float(line.rsplit(" ", 1)[1]))
        raise RuntimeError(f"ws_connections_active missing from {base}/metrics")

    def gauges(self):
        return {"A": self.ws_active(self.args.a), "B": self.ws_active(self.args.b)}


class Socket:
    def __init__(self, name, ws):
        self.name = name
        self.ws = ws
        self.frames = []
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self):
        try:
            async for raw in self.ws:
                try:
                    self.frames.append(json.loads(raw))
                except ValueError:
                    self.frames.append({"event_type": "<non-json>", "raw": raw})
        except websockets.ConnectionClosed:
            pass

    def with_title(self, title):
        return [
            f
            for f in self.frames
            if f.get("event_type") == "notification" and (f.get("data") or {}).get("title") == title
        ]

    async def close(self):
        await self.ws.close()
        self.task.cancel()


async def ws_connect(uri, headers):
    try:
        return await websockets.connect(uri, additional_headers=headers, open_timeout=10)
    except TypeError:  # websockets < 14 (legacy client)
        return await websockets.connect(uri, extra_headers=headers, open_timeout=10)


async def open_socket(p, name, ticket):
    """Opens a socket through the proxy with a ticket; returns (Socket, instance letter)."""
    before = p.gauges()
    uri = p.args.proxy.replace("http://", "ws://", 1) + "/ws/connect?ticket=" + ticket
    ws = await ws_connect(uri, p.headers)
    first = json.loads(await asyncio.wait_for(ws.recv(), 5))
    if first.get("event_type") != "connection_ack":
        raise RuntimeError(f"{name}: first frame is not connection_ack: {first}")
    sock = Socket(name, ws)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        now = p.gauges()
        grown = [k for k in now if now[k] > before[k]]
        if len(grown) == 1:
            return sock, grown[0]
        await asyncio.sleep(0.1)
    await sock.close()
    raise RuntimeError(f"{name}: cannot tell which instance holds the socket (gauges {before} → {p.gauges()})")


async def broadcast_and_count(p, admin_token, via, sockets, timeout):
    title = f"two-instances-{uuid.uuid4().hex[:12]}"
    base = p.args.a if via == "A" else p.args.b
    st, body = p.http(
        "POST",
        f"{base}/api/v1/admin/agent/command",
        {
            "action": "broadcast",
            "payload": {"title": title, "content": "c", "level": "info", "audience": "all"},
        },
        token=admin_token,
    )
    if st != 202:
        bad(f"broadcast posted to instance {via}: expected 202, got {st} {body}")
        return
    t0 = time.monotonic()
    arrived = {}
    while time.monotonic() - t0 < timeout:
        for s, _ in sockets:
            if s.name not in arrived and s.with_title(title):
                arrived[s.name] = time.monotonic() - t0
        if len(arrived) == len(sockets):
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(1.5)  # linger: a duplicate would show up here
    for s, inst in sockets:
        got = s.with_title(title)
        how = "locally" if inst == via else f"across instances ({via} → {inst})"
        if len(got) != 1:
            bad(f"{s.name} socket on instance {inst} received the broadcast posted to {via} {len(got)} times within {timeout:g} s (expected exactly once, {how})")
            continue
        env = got[0]
        missing = {"event_type", "data", "timestamp", "message_id", "target_user_id", "target_role", "topic"} - set(env)
        if missing:
            bad(f"{s.name} socket: envelope lacks {sorted(missing)}: {env}")
        else:
            ok(f"{s.name} socket on instance {inst} got the broadcast posted to instance {via} exactly once, {how}, after {arrived[s.name] * 1000:.0f} ms")


async def main():
    ap = argparse.ArgumentParser()
    for k in ("proxy", "a", "b", "client-ip", "admin", "admin-password", "user", "user-password"):
        ap.add_argument(f"--{k}", required=True)
    ap.add_argument("--timeout", type=float, default=5.0)
    args = ap.parse_args()
    p = Probe(args)

    admin_token = p.login(args.admin, args.admin_password)
    user_token = p.login(args.user, args.user_password)
    ok("login (admin, level 1) through the proxy")

    # Both tickets first, then the two upgrades back to back: round robin puts them on
    # different instances. A retry takes one more ticket, which shifts the rotation by one.
    admin_ticket = p.ticket(admin_token)
    user_ticket = p.ticket(user_token)
    s_admin, inst_admin = await open_socket(p, "admin", admin_ticket)
    s_user, inst_user = None, None
    for attempt in range(4):
        if attempt:
            user_ticket = p.ticket(user_token)
        s_user, inst_user = await open_socket(p, "level-1", user_ticket)
        if inst_user != inst_admin:
            break
        await s_user.close()
        await asyncio.sleep(0.3)  # let the gauge drop before the next try
        s_user = None
    if s_user is None:
        bad(f"could not get the two sockets onto different instances through the proxy (both on {inst_admin})")
        await s_admin.close()
        return
    ok(f"WebSocket upgrade through the proxy: admin socket on instance {inst_admin}, level-1 socket on instance {inst_user}")
    await asyncio.sleep(0.5)  # initial connection_ack/system_status frames

    sockets = [(s_admin, inst_admin), (s_user, inst_user)]
    # Posted to the instance that does NOT hold the admin socket, then the other way round.
    await broadcast_and_count(p, admin_token, inst_user, sockets, args.timeout)
    await broadcast_and_count(p, admin_token, inst_admin, sockets, args.timeout)
    for s, _ in sockets:
        await s.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as e:  # noqa: BLE001 — any crash is a failed check with its reason
        bad(f"websocket probe: {type(e).__name__}: {e}")
    sys.exit(1 if FAILS else 0)
