#!/usr/bin/env python3
"""Writes an HTTP load scenario: N keep-alive http-clients, each sending one
request every INTERVAL seconds for the whole run, through an http-proxy
(upstream keep-alive, a pool of POOL connections) to one http-server. The
clients are spelled out one by one (no replicas needed) and start spread
over the first interval, so requests arrive evenly.

Usage: gen_http_load.py N OUT.toml [--minutes M] [--interval S] [--pool P]
                        [--direct] [--per-host K]
                        [--publish-every S] [--subscribers K]

  --minutes M    simulated duration (default 60)
  --interval S   seconds between one client's requests (default 30)
  --pool P       proxy upstream keep-alive pool size; 0 = a new upstream
                 connection per request, closed by the proxy (default 16)
  --direct       no proxy: the clients talk to the server itself
  --per-host K   clients per client host (default 50000; a host has at
                 most 64k ports)
  --publish-every S
                 the server publishes an event every S seconds (default:
                 never); each publication is offered to the server's
                 connections (with --direct, one per client)
  --subscribers K
                 K long-polling http-subscribers on /events (on the first
                 client host, connected to the server itself), each
                 expected to learn of every event

Keep-alive is kept for the whole run: idle_timeout = "off" and
max_requests = 0 on the proxy and the server, so each client holds one
connection (and the proxy one per client). The expectation counts every
response: N * requests answers with status 200.
"""
import argparse

ap = argparse.ArgumentParser()
ap.add_argument("n", type=int)
ap.add_argument("out")
ap.add_argument("--minutes", type=int, default=60)
ap.add_argument("--interval", type=int, default=30)
ap.add_argument("--pool", type=int, default=16)
ap.add_argument("--direct", action="store_true")
ap.add_argument("--per-host", type=int, default=50000)
ap.add_argument("--publish-every", type=int, default=0)
ap.add_argument("--subscribers", type=int, default=0)
a = ap.parse_args()

n = a.n
secs = a.minutes * 60
requests = secs // a.interval
hosts = (n + a.per_host - 1) // a.per_host
front = "server" if a.direct else "proxy"
s = [
    f'name = "load-http-{n}"',
    f'description = "{n} keep-alive HTTP clients, one request every {a.interval}s, '
    f'{"directly to" if a.direct else "through a reverse proxy to"} one server"',
    "seed = 1",
    f'time_limit = "{secs}s"',
    "",
    "[[host]]", 'name = "server"', 'address = "10.0.0.1"', "backlog = 65535", "",
]
if not a.direct:
    s += ["[[host]]", 'name = "proxy"', 'address = "10.0.0.2"', "backlog = 65535", ""]
    s += ["[[link]]", 'between = ["proxy", "server"]', 'latency = "1ms"', ""]
for h in range(hosts):
    s += ["[[host]]", f'name = "client{h}"', f'address = "10.0.1.{h + 1}"', ""]
    s += ["[[link]]", f'between = ["client{h}", "{front}"]', 'latency = "5ms"', ""]
s += ["[[app]]", 'host = "server"', 'kind = "http-server"', "port = 8080",
      'idle_timeout = "off"', "max_requests = 0"]
events = 0
if a.publish_every > 0:
    events = secs // a.publish_every - 1
    s += [f'publish_every = "{a.publish_every}s"', f"publish_count = {events}",
          'routes = [{ path = "/", kind = "static", body_bytes = 1024 }, '
          '{ path = "/events", kind = "long-poll", timeout = "60s" }]']
s += [""]
if a.subscribers > 0 and a.direct and hosts == 0:
    raise SystemExit("--subscribers needs at least one client")
if not a.direct:
    s += ["[[app]]", 'host = "proxy"', 'kind = "http-proxy"', "port = 80",
          'upstream = "server:8080"', 'idle_timeout = "off"', "max_requests = 0"]
    if a.pool > 0:
        s += ["upstream_keep_alive = true", f"pool_size = {a.pool}"]
    s += [""]
port = 8080 if a.direct else 80
# Starts spread over the first interval less a second, so that every
# client's last request is answered before the time limit.
step_us = (a.interval - 1) * 1_000_000 // max(n, 1)
for i in range(n):
    s += ["[[app]]", f'host = "client{i // a.per_host}"', 'kind = "http-client"',
          f'connect = "{front}:{port}"', f"requests = {requests}",
          f'interval = "{a.interval}s"', f'start = "{i * step_us}us"', ""]
for i in range(a.subscribers if events else 0):
    s += ["[[app]]", 'host = "client0"', 'kind = "http-subscriber"',
          'connect = "server:8080"', 'path = "/events"', 'mode = "long-poll"',
          f"events = {events}", ""]
if a.subscribers and events:
    s += ["[[expect]]", 'event = "http.event"', f"count = {a.subscribers * events}",
          'label = "every subscriber learns of every event"', ""]
s += ["[[expect]]", 'event = "http.response"', "fields = { status = 200 }",
      f"count = {n * requests}", 'label = "every request answered"', ""]
open(a.out, "w").write("\n".join(s))
