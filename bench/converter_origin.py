#!/usr/bin/env python3
"""A stand-in for the sample origin's converter mode, for `bench.py overload --origin python`.

    python3 bench/converter_origin.py --port 19401 --id a --workers 4 --service-ms avif=40,webp=12,original=3

The same contract as `LbProxy origin --workers N --service-ms ...` (docs/sample-origin.md): GET /images/<name>
is served by one of N workers, holding it for the service time of its format class; requests beyond N wait
inside the origin, as a converter's do. The class comes from `X-Image-Format` (set by LbProxy) or, sent
directly, from `Accept`. GET /_origin/stats gives {"inFlight","maxInFlight","requests":{class: n}} (in flight:
requests received and not yet answered, waiting ones included); DELETE /_origin/stats resets;
PUT /_origin/behavior?slowFactor=F multiplies every service time (1 restores). GET /healthz answers ok.

The worker holds its slot by sleeping, not by burning CPU: the capacity (workers / mean service time) then
holds on a loaded 2-core machine, so overload is overload of the origin and not of the host. Its CPU figure
is therefore the cost of serving, not of converting. Standard library only; HTTP/1.1 keep-alive.
"""
import argparse
import asyncio
import json
import os
import random
import sys
import urllib.parse

CLASSES = ("avif", "webp", "original")
TYPES = {"avif": b"image/avif", "webp": b"image/webp", "original": b"image/jpeg"}


def parse_service(spec):
    out = {}
    for part in spec.split(","):
        name, _, ms = part.partition("=")
        if name not in CLASSES:
            raise SystemExit(f"--service-ms: unknown class {name!r}")
        out[name] = float(ms) / 1000
    return out


def negotiate(accept):
    """The class a direct client gets: avif if it accepts image/avif, else webp if image/webp, else original."""
    accept = accept.lower()
    if "image/avif" in accept:
        return "avif"
    if "image/webp" in accept:
        return "webp"
    return "original"


class Origin:
    def __init__(self, ident, workers, service, body_bytes):
        self.id = ident.encode()
        self.workers = asyncio.Semaphore(workers)
        self.service = service
        self.slow = 1.0
        self.body = random.Random(ident).randbytes(body_bytes)
        self.reset()

    def reset(self):
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests = {c: 0 for c in CLASSES}

    async def handle(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, _, v = line.partition(":")
                        headers[k.strip().lower()] = v.strip()
                length = int(headers.get("content-length", "0") or 0)
                if length:
                    await reader.readexactly(length)
                status, ctype, body = await self.route(method, target, headers)
                writer.write(b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nX-Origin-Id: %s\r\n\r\n"
                             % (status, b"OK" if status == 200 else b"-", ctype, len(body), self.id) + body)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()

    async def route(self, method, target, headers):
        url = urllib.parse.urlsplit(target)
        if url.path == "/healthz":
            return 200, b"text/plain", b"ok"
        if url.path == "/_origin/stats":
            if method == "DELETE":
                self.reset()
            body = json.dumps({"inFlight": self.in_flight, "maxInFlight": self.max_in_flight,
                               "requests": self.requests}).encode()
            return 200, b"application/json", body
        if url.path == "/_origin/behavior" and method == "PUT":
            q = urllib.parse.parse_qs(url.query)
            self.slow = float(q.get("slowFactor", ["1"])[0])
            return 200, b"text/plain", b"ok"
        if url.path.startswith("/images/"):
            cls = headers.get("x-image-format", "").lower()
            if cls not in CLASSES:
                cls = negotiate(headers.get("accept", ""))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                async with self.workers:
                    await asyncio.sleep(self.service[cls] * self.slow)
                self.requests[cls] += 1
            finally:
                self.in_flight -= 1
            return 200, TYPES[cls], self.body
        return 404, b"text/plain", b"not found"


async def serve(args):
    origin = Origin(args.id, args.workers, parse_service(args.service_ms), args.body_bytes)
    server = await asyncio.start_server(origin.handle, "127.0.0.1", args.port, backlog=4096)
    print(f"converter origin {args.id} on 127.0.0.1:{args.port}, pid {os.getpid()}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--id", default="a")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--service-ms", default="avif=40,webp=12,original=3")
    ap.add_argument("--body-bytes", type=int, default=4096)
    args = ap.parse_args(argv)
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    import signal
    # Nothing to flush: SIGTERM ends the process at once, rather than cancelling every open connection's task
    # (asyncio would log each one: a thousand tracebacks after an unlimited proxy's step).
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    sys.exit(main(sys.argv[1:]))
