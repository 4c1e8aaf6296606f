#!/usr/bin/env python3
"""The load generator of `bench.py overload`: closed loop and open loop HTTP/1.1 clients, in one process.

    python3 bench/overload_client.py PLAN.json      # prints one JSON document on stdout

PLAN: {"port", "duration", "timeout", "max_conns", "streams": [stream, ...]}; each stream runs at the same time,
asks for PREFIX/images/photo-<k % 64>.jpg ("prefix" optional) of the plan's port or its own ("port"), may name the
class its Accept negotiates in X-Image-Format ("format_header": true), and may add "headers":
  {"name", "mode": "closed", "clients": N, "max_requests": M, "headers": {..}, "accepts": [accept, ...]}
  {"name", "mode": "open", "rate": R, "max_requests": M, "headers": {..}, "accepts": [accept, ...]}
A closed-loop client sends its next request when the last returns. An open-loop stream sends request k at
start + k / R whatever the answers (wrk2's constant rate, which wrk lacks); its latency is measured from that
scheduled time, so a proxy that stalls is charged for the requests it delayed (no coordinated omission), and an
arrival that finds every one of `max_conns` connections busy is not sent and counted as `unsent`. Request k
carries accepts[k % len(accepts)] as its Accept header (the mix). Every stream is bounded by `max_requests` and
by `duration`; requests still unanswered `timeout` seconds after the end are counted as timeouts.

Per answered request: [scheduled s from start, latency ms from the scheduled time, ms from the send, status,
Retry-After present (0/1), served class or "", class acceptable (1/0, -1 when not an image)].
"""
import asyncio
import json
import sys
import time

ORDER = {"original": 0, "webp": 1, "avif": 2}
CLASS_OF = {"image/avif": "avif", "image/webp": "webp", "image/jpeg": "original"}


def accepted(accept):
    a = accept.lower()
    out = {"original"}
    if "image/avif" in a:
        out.add("avif")
    if "image/webp" in a:
        out.add("webp")
    return out


class Conn:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer


async def connect(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    return Conn(reader, writer)


async def exchange(conn, request):
    """One request on a keep-alive connection: (status, headers, keep) — the body is read and dropped."""
    conn.writer.write(request)
    await conn.writer.drain()
    head = await conn.reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    keep = headers.get("connection", "").lower() != "close"
    if "content-length" in headers:
        await conn.reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await conn.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await conn.reader.readexactly(size + 2)
            if size == 0:
                break
    elif status not in (204, 304):
        await conn.reader.read()
        keep = False
    return status, headers, keep


class Stream:
    def __init__(self, plan, s, t0):
        self.plan, self.s, self.t0 = plan, s, t0
        self.records, self.unsent, self.timeouts, self.errors = [], 0, 0, 0
        self.requests = []
        for accept in s["accepts"]:
            self.requests.append((accept, accepted(accept)))
        self.hdrs = "".join(f"{k}: {v}\r\n" for k, v in s.get("headers", {}).items())

    def request_bytes(self, k):
        accept, ok_set = self.requests[k % len(self.requests)]
        path = f"{self.s.get('prefix', '')}/images/photo-{k % 64}.jpg"
        # "format_header": also name the class the Accept negotiates in X-Image-Format, which a converter origin
        # obeys: a proxy that does not negotiate forwards it as is, LbProxy replaces it with its own (degraded) choice.
        fmt = f"X-Image-Format: {max(ok_set, key=ORDER.get)}\r\n" if self.s.get("format_header") else ""
        return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {accept}\r\n{fmt}{self.hdrs}\r\n").encode()

    async def one(self, conn, k, scheduled):
        sent = time.monotonic()
        status, headers, keep = await exchange(conn, self.request_bytes(k))
        done = time.monotonic()
        _, ok_set = self.requests[k % len(self.requests)]
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        cls = CLASS_OF.get(ctype, "")
        ok = (1 if cls in ok_set else 0) if cls else -1
        self.records.append([round(scheduled - self.t0, 4), round((done - scheduled) * 1000, 3),
                             round((done - sent) * 1000, 3), status, 1 if "retry-after" in headers else 0, cls, ok])
        return keep


async def closed_loop(plan, st, deadline):
    count = [0]

    async def client():
        conn = None
        while time.monotonic() < deadline and count[0] < st.s["max_requests"]:
            k = count[0]
            count[0] += 1
            try:
                if conn is None:
                    conn = await connect(st.s.get("port", plan["port"]))
                left = deadline + plan["timeout"] - time.monotonic()
                keep = await asyncio.wait_for(st.one(conn, k, time.monotonic()), max(left, 0.01))
                if not keep:
                    conn.writer.close()
                    conn = None
            except asyncio.TimeoutError:
                st.timeouts += 1
                conn = drop(conn)
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                st.errors += 1
                conn = drop(conn)
                await asyncio.sleep(0.01)
        drop(conn)

    await asyncio.gather(*(client() for _ in range(st.s["clients"])))


def drop(conn):
    if conn is not None:
        conn.writer.close()
    return None


async def open_loop(plan, st, deadline, budget):
    idle, outstanding, tasks = [], [0], set()
    rate = st.s["rate"]

    async def fire(k, scheduled):
        conn = idle.pop() if idle else None
        try:
            if conn is None:
                conn = await connect(st.s.get("port", plan["port"]))
            left = deadline + plan["timeout"] - time.monotonic()
            keep = await asyncio.wait_for(st.one(conn, k, scheduled), max(left, 0.01))
            if keep:
                idle.append(conn)
            else:
                drop(conn)
        except asyncio.TimeoutError:
            st.timeouts += 1
            drop(conn)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            st.errors += 1
            drop(conn)
        finally:
            outstanding[0] -= 1

    for k in range(st.s["max_requests"]):
        scheduled = st.t0 + k / rate
        if scheduled >= deadline:
            break
        delay = scheduled - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if outstanding[0] >= budget:
            st.unsent += 1
            continue
        outstanding[0] += 1
        t = asyncio.ensure_future(fire(k, scheduled))
        tasks.add(t)
        t.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(set(tasks), timeout=max(deadline + plan["timeout"] + 1 - time.monotonic(), 0.1))
    st.timeouts += len(tasks)  # still unanswered at the bound
    for t in list(tasks):
        t.cancel()
    for conn in idle:
        drop(conn)


async def run(plan):
    t0 = time.monotonic()
    deadline = t0 + plan["duration"]
    streams = [Stream(plan, s, t0) for s in plan["streams"]]
    opens = sum(1 for s in plan["streams"] if s["mode"] == "open")
    budget = max(1, plan["max_conns"] // max(opens, 1))
    await asyncio.gather(*(closed_loop(plan, st, deadline) if st.s["mode"] == "closed" else open_loop(plan, st, deadline, budget)
                           for st in streams))
    return {"elapsed_s": time.monotonic() - t0, "streams": {
        st.s["name"]: {"records": st.records, "unsent": st.unsent, "timeouts": st.timeouts, "errors": st.errors}
        for st in streams}}


def main(argv):
    with open(argv[0]) as f:
        plan = json.load(f)
    json.dump(asyncio.run(run(plan)), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
