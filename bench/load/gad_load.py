#!/usr/bin/env python3
"""GAD mixed load driver (contract §5–§8, §13). Not part of the server build.

Each simulated client logs in once as a seeded user (scripts: `gad seed`) and then loops over its
scenario for --duration seconds. Client i binds its TCP connections to its own loopback source address
(127.0.0.2, 127.0.0.3, …) so the per-IP rate limiter sees distinct clients, as it would in the field.

Scenarios:
  list       GET  /api/v1/tasks?limit=50                      (supervisors)
  get        GET  /api/v1/tasks/{id}                          (supervisors, ids from the list)
  create     POST /api/v1/tasks                               (supervisors) → 201
  status     POST /api/v1/tasks/{id}/status  en_curso→pausada→en_curso→finalizada (supervisors)
  emergency  POST /api/v1/tasks/emergency near the seed centre (efectivos) → 201 or 404 none available;
             the created task is then finished by a supervisor so the efectivo becomes available again
  mixed      40% list, 30% get, 10% create, 10% status, 10% emergency
  websocket  N sockets: connect → connection_ack latency; counts events received during the run

Prints one JSON object per scenario on stdout:
  {"scenario","clients","duration_s","requests","errors","rps","p50_ms","p99_ms","max_ms","by_status",…}
Requires: pip install aiohttp websockets
"""
import argparse
import asyncio
import json
import random
import sys
import time
import uuid

import aiohttp
import websockets

SUP_PW = "Supervisor2026!"
EF_PW = "Efectivo2026!"


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return round(xs[k], 2)


class Stats:
    def __init__(self):
        self.lat = []
        self.errors = 0
        self.by_status = {}
        self.error_samples = []

    def add(self, ms, status, ok, body=b""):
        self.lat.append(ms)
        self.by_status[str(status)] = self.by_status.get(str(status), 0) + 1
        if not ok:
            self.errors += 1
            if len(self.error_samples) < 3:
                self.error_samples.append(f"{status} {body[:160].decode('utf-8', 'replace')}")


class Client:
    def __init__(self, base, idx, email, password, args):
        self.base = base
        self.ip = f"127.0.0.{2 + idx % 250}" if args.source_ips else None
        conn = aiohttp.TCPConnector(limit=4, local_addr=(self.ip, 0) if self.ip else None)
        self.s = aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=30))
        self.email, self.password, self.token = email, password, None
        self.rng = random.Random(idx)
        self.own_tasks = []  # [id, estado] of tasks this client created (no two clients race on one)

    async def login(self):
        async with self.s.post(f"{self.base}/api/v1/auth/login",
                               data={"username": self.email, "password": self.password}) as r:
            body = await r.json(content_type=None)
            if r.status != 200:
                raise RuntimeError(f"login {self.email} from {self.ip}: {r.status} {body}")
            self.token = body["access_token"]

    async def req(self, stats, method, path, expect, **kw):
        t0 = time.perf_counter()
        try:
            async with self.s.request(method, self.base + path,
                                      headers={"Authorization": f"Bearer {self.token}"}, **kw) as r:
                body = await r.read()
                ms = (time.perf_counter() - t0) * 1000
                if stats is not None:
                    stats.add(ms, r.status, r.status in expect, body)
                try:
                    return r.status, json.loads(body) if body else None
                except ValueError:
                    return r.status, None
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            if stats is not None:
                stats.add((time.perf_counter() - t0) * 1000, type(e).__name__, False)
            return None, None

    async def close(self):
        await self.s.close()


class World:
    """Shared across clients: task ids to read, the seed's delegates, tasks to drive through states."""

    def __init__(self):
        self.task_ids = []
        self.delegates = []


async def op_list(c, w, st):
    code, body = await c.req(st, "GET", "/api/v1/tasks?limit=50", {200})
    if code == 200 and isinstance(body, list) and len(w.task_ids) < 5000:
        for t in body:
            w.task_ids.append(t["id"])
            if t.get("delegado_usuario_id"):
                w.delegates.append(t["delegado_usuario_id"])


async def op_get(c, w, st):
    if not w.task_ids:
        return await op_list(c, w, st)
    await c.req(st, "GET", f"/api/v1/tasks/{c.rng.choice(w.task_ids)}", {200})


async def create_task(c, w, st):
    if not w.delegates:
        await op_list(c, w, None)
    body = {"codigo": f"LOAD-{uuid.uuid4().hex[:16]}", "titulo": "Carga", "tipo": "patrullaje",
            "prioridad": c.rng.randint(1, 5), "inicio_programado": "2026-12-01T10:00:00Z",
            "delegado_usuario_id": c.rng.choice(w.delegates) if w.delegates else 1,
            "ubicacion_lat": -34.60 + c.rng.uniform(-0.1, 0.1), "ubicacion_lon": -58.38 + c.rng.uniform(-0.1, 0.1)}
    code, t = await c.req(st, "POST", "/api/v1/tasks", {201}, json=body)
    if code == 201 and t:
        c.own_tasks.append([t["id"], "programada"])
    return code


async def op_create(c, w, st):
    await create_task(c, w, st)


# Contract §6: programada → en_curso | cancelada; en_curso → pausada | finalizada | cancelada;
# pausada → en_curso | cancelada.
NEXT = {"programada": [("en_curso", 1.0)], "en_curso": [("pausada", 0.5), ("finalizada", 0.5)],
        "pausada": [("en_curso", 0.7), ("cancelada", 0.3)]}


async def op_status(c, w, st):
    if not c.own_tasks:
        await create_task(c, w, None)
        if not c.own_tasks:
            return
    i = c.rng.randrange(len(c.own_tasks))
    tid, estado = c.own_tasks[i]
    opts = NEXT[estado]
    target = c.rng.choices([o for o, _ in opts], [p for _, p in opts])[0]
    code, _ = await c.req(st, "POST", f"/api/v1/tasks/{tid}/status", {200}, json={"estado": target, "nota": "carga"})
    if code == 200:
        if target in ("finalizada", "cancelada"):
            c.own_tasks.pop(i)
        else:
            c.own_tasks[i][1] = target


async def op_emergency(c, w, st, finisher):
    body = {"lat": -34.60 + c.rng.uniform(-0.05, 0.05), "lng": -58.38 + c.rng.uniform(-0.05, 0.05),
            "descripcion": "carga", "radius_m": 20000}
    code, r = await c.req(st, "POST", "/api/v1/tasks/emergency", {201, 404}, json=body)
    if code == 201 and r and finisher is not None:
        # Free the efectivo again (not measured).
        await finisher.req(None, "POST", f"/api/v1/tasks/{r['task_id']}/status", {200},
                           json={"estado": "finalizada", "nota": "carga"})


async def run_clients(args, scenario, sups, efs, w):
    st = Stats()
    stop = time.perf_counter() + args.duration
    finisher = sups[0] if sups else None

    async def loop_sup(c, kind):
        while time.perf_counter() < stop:
            k = kind
            if kind == "mixed":
                k = c.rng.choices(["list", "get", "create", "status"], [40, 30, 10, 10])[0]
            await {"list": op_list, "get": op_get, "create": op_create, "status": op_status}[k](c, w, st)

    async def loop_ef(c):
        while time.perf_counter() < stop:
            await op_emergency(c, w, st, finisher)
            if scenario == "mixed":
                await asyncio.sleep(0.2)  # emergencies are rarer than reads

    tasks = []
    if scenario in ("list", "get", "create", "status", "mixed"):
        tasks += [loop_sup(c, scenario) for c in sups[1:] or sups]
    if scenario in ("emergency", "mixed"):
        tasks += [loop_ef(c) for c in efs]
    t0 = time.perf_counter()
    await asyncio.gather(*tasks)
    return st, time.perf_counter() - t0


async def run_ws(args, base, sups, efs):
    url = base.replace("http://", "ws://").replace("https://", "wss://") + "/ws/connect"
    acks, events, errors, samples = [], [0], [0], []
    stop = time.perf_counter() + args.duration

    async def one(c):
        t0 = time.perf_counter()
        kw = {"local_addr": (c.ip, 0)} if c.ip else {}
        hdr = {"Authorization": f"Bearer {c.token}"}
        try:
            try:
                ws = await websockets.connect(url, additional_headers=hdr, open_timeout=10, **kw)
            except TypeError:
                ws = await websockets.connect(url, extra_headers=hdr, open_timeout=10, **kw)
            async with ws:
                first = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if first.get("event_type") != "connection_ack":
                    errors[0] += 1
                    return
                acks.append((time.perf_counter() - t0) * 1000)
                while time.perf_counter() < stop:
                    try:
                        await asyncio.wait_for(ws.recv(), max(0.1, stop - time.perf_counter()))
                        events[0] += 1
                    except asyncio.TimeoutError:
                        break
        except Exception as e:  # noqa: BLE001 — every failure counts as an error
            errors[0] += 1
            if len(samples) < 5:
                samples.append(f"{type(e).__name__}: {e}"[:120])

    clients = (sups + efs)[: args.ws]
    # Drive some writes meanwhile so events flow (task_created/… reach level 2+ sockets).
    w = World()
    writer = sups[0]

    async def writes():
        st = Stats()
        while time.perf_counter() < stop:
            await create_task(writer, w, st)
            await asyncio.sleep(0.05)
        return st

    res = await asyncio.gather(writes(), *[one(c) for c in clients])
    return {"scenario": "websocket", "clients": len(clients), "duration_s": args.duration,
            "connected": len(acks), "errors": errors[0], "ack_p50_ms": pct(acks, 50), "ack_p99_ms": pct(acks, 99),
            "events_received": events[0], "events_per_s": round(events[0] / args.duration, 1),
            "writes_during_run": len(res[0].lat), "error_samples": samples}


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", default="http://127.0.0.1:8000")
    ap.add_argument("--scenarios", default="list,get,create,status,emergency,mixed,websocket")
    ap.add_argument("--supervisors", type=int, default=8, help="supervisor clients (seeded supervisorN@gad.local)")
    ap.add_argument("--efectivos", type=int, default=8, help="efectivo clients for emergencies (efectivoN@gad.local)")
    ap.add_argument("--ws", type=int, default=16, help="WebSocket connections")
    ap.add_argument("--duration", type=float, default=15.0)
    ap.add_argument("--no-source-ips", dest="source_ips", action="store_false",
                    help="do not bind clients to 127.0.0.2… (then run the server with RATE_LIMITING_ENABLED=false)")
    args = ap.parse_args()
    base = args.base_url.rstrip("/")
    sups = [Client(base, i, f"supervisor{i + 1}@gad.local", SUP_PW, args) for i in range(args.supervisors)]
    efs = [Client(base, 100 + i, f"efectivo{i + 1}@gad.local", EF_PW, args) for i in range(args.efectivos)]
    try:
        await asyncio.gather(*[c.login() for c in sups + efs])
        w = World()
        for sc in args.scenarios.split(","):
            sc = sc.strip()
            if sc == "websocket":
                out = await run_ws(args, base, sups, efs)
            else:
                st, el = await run_clients(args, sc, sups, efs, w)
                n = len(st.lat)
                clients = (len(sups[1:] or sups) if sc != "emergency" else 0) + (len(efs) if sc in ("emergency", "mixed") else 0)
                out = {"scenario": sc, "clients": clients, "duration_s": round(el, 1), "requests": n,
                       "errors": st.errors, "rps": round(n / el, 1) if el else 0,
                       "p50_ms": pct(st.lat, 50), "p99_ms": pct(st.lat, 99), "max_ms": round(max(st.lat), 1) if st.lat else None,
                       "by_status": st.by_status, "error_samples": st.error_samples}
            print(json.dumps(out), flush=True)
    finally:
        await asyncio.gather(*[c.close() for c in sups + efs])


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
