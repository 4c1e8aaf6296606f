#!/usr/bin/env python3
"""Writes LbProxy's Grafana dashboards into ./dashboards/.

Conventions (Grafana's dashboard-linter): a `datasource` variable of type datasource (query prometheus,
label "Data source"); multi-select `job` and `instance` query variables (label "Job"/"Instance",
allValue ".+") on that datasource; every panel on `${datasource}`; every selector carries
job=~"$job", instance=~"$instance"; rate()/irate() over $__rate_interval; a unit and a description on
every panel; variables refresh on time-range change (refresh: 2); editable false (provisioned).

Every query is written to return data on a live LbProxy with traffic (no series that only exists after
a rare event, or such a series is joined with one that always exists): the test evaluates each one.
"""
import json
import os
import sys

SEL = 'job=~"$job", instance=~"$instance"'
DS = {"type": "prometheus", "uid": "${datasource}"}
RI = "$__rate_interval"


def s(extra=""):
    """The label selector every query uses, plus optional matchers."""
    return "{" + SEL + (", " + extra if extra else "") + "}"


def target(expr, legend, ref):
    return {"datasource": DS, "editorMode": "code", "expr": expr, "legendFormat": legend,
            "range": True, "refId": ref}


def panel(title, description, unit, targets, kind="timeseries", stack=False, minimum=0):
    custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
              "spanNulls": False, "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
    defaults = {"unit": unit, "min": minimum, "color": {"mode": "palette-classic"}}
    if kind == "timeseries":
        defaults["custom"] = custom
    p = {"type": kind, "title": title, "description": description, "datasource": DS,
         "fieldConfig": {"defaults": defaults, "overrides": []},
         "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                     "tooltip": {"mode": "multi", "sort": "desc"}},
         "targets": [target(e, l, chr(ord("A") + i)) for i, (e, l) in enumerate(targets)]}
    if kind == "stat":
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "area", "textMode": "auto"}
    return p


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


def layout(items):
    """Rows full width; panels two (or three, for stat) per line."""
    out, y, x, h = [], 0, 0, 0
    pid = 1
    for it in items:
        it["id"] = pid
        pid += 1
        if it["type"] == "row":
            if x:
                y += h
                x = 0
            it["gridPos"] = {"x": 0, "y": y, "w": 24, "h": 1}
            y += 1
            h = 0
        else:
            w = 6 if it["type"] == "stat" else 12
            ph = 5 if it["type"] == "stat" else 8
            if x + w > 24:
                y += h
                x = 0
                h = 0
            it["gridPos"] = {"x": x, "y": y, "w": w, "h": ph}
            x += w
            h = max(h, ph)
        out.append(it)
    return out


def variables(extra=()):
    v = [
        {"type": "datasource", "name": "datasource", "label": "Data source", "query": "prometheus",
         "current": {}, "hide": 0, "includeAll": False, "multi": False, "options": [], "refresh": 1,
         "regex": ""},
        {"type": "query", "name": "job", "label": "Job", "datasource": DS,
         "definition": "label_values(lbproxy_config_generation, job)",
         "query": {"query": "label_values(lbproxy_config_generation, job)", "refId": "job"},
         "multi": True, "includeAll": True, "allValue": ".+", "current": {}, "options": [],
         "refresh": 2, "sort": 1, "hide": 0, "regex": ""},
        {"type": "query", "name": "instance", "label": "Instance", "datasource": DS,
         "definition": 'label_values(lbproxy_config_generation{job=~"$job"}, instance)',
         "query": {"query": 'label_values(lbproxy_config_generation{job=~"$job"}, instance)',
                   "refId": "instance"},
         "multi": True, "includeAll": True, "allValue": ".+", "current": {}, "options": [],
         "refresh": 2, "sort": 1, "hide": 0, "regex": ""},
    ]
    v.extend(extra)
    return {"list": v}


CLUSTER_VAR = {"type": "query", "name": "cluster", "label": "Cluster", "datasource": DS,
               "definition": 'label_values(lbproxy_destination_healthy{job=~"$job", instance=~"$instance"}, cluster)',
               "query": {"query": 'label_values(lbproxy_destination_healthy{job=~"$job", instance=~"$instance"}, cluster)',
                         "refId": "cluster"},
               "multi": True, "includeAll": True, "allValue": ".+", "current": {}, "options": [],
               "refresh": 2, "sort": 1, "hide": 0, "regex": ""}

ANNOTATIONS = {"list": [
    {"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True,
     "hide": True, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts",
     "type": "dashboard"},
    {"name": "Config applied", "datasource": DS, "enable": True, "iconColor": "green",
     "expr": 'changes(lbproxy_config_generation{' + SEL + '}[2m]) > 0',
     "step": "1m", "titleFormat": "config applied on {{instance}}",
     "textFormat": "generation changed", "useValueForTime": False},
    {"name": "Config rejected", "datasource": DS, "enable": True, "iconColor": "red",
     "expr": 'increase(lbproxy_config_reloads_total{' + SEL + ', result="rejected"}[2m]) > 0',
     "step": "1m", "titleFormat": "config rejected on {{instance}}",
     "textFormat": "the last good config keeps serving", "useValueForTime": False},
]}


def dashboard(uid, title, description, items, extra_vars=()):
    return {
        "uid": uid, "title": title, "description": description, "tags": ["lbproxy"],
        "editable": False, "graphTooltip": 1, "schemaVersion": 39, "version": 1,
        "time": {"from": "now-3h", "to": "now"}, "refresh": "30s", "timezone": "",
        "annotations": ANNOTATIONS, "templating": variables(extra_vars), "links": [
            {"type": "dashboards", "tags": ["lbproxy"], "asDropdown": True, "title": "LbProxy",
             "includeVars": True, "keepTime": True}],
        "panels": layout(items),
    }


REQ = "lbproxy_proxy_requests_total"
STATUS_CLASS = ('label_replace(rate(' + REQ + s() + '[' + RI + ']), "status_class", "${1}xx", '
                '"status_code", "([0-9]).*")')


def error_ratio(by):
    sel5 = s('status_code=~"5.."')
    five = f'sum by ({by}) (rate({REQ}{sel5}[{RI}]))'
    allr = f'sum by ({by}) (rate({REQ}{s()}[{RI}]))'
    # "or all * 0": a 0 where no 5xx series exists yet, so the panel has data with no errors
    return f'({five} or {allr} * 0) / {allr}'


def p99(q, by):
    return (f'histogram_quantile({q}, sum by ({by}) '
            f'(rate(lbproxy_proxy_duration_seconds_bucket{s()}[{RI}])))')


def route_quantile(q):
    return (f'histogram_quantile({q}, sum by (route, le) '
            f'(rate(lbproxy_proxy_duration_seconds_bucket{s()}[{RI}])))')


SENT = "lbproxy_proxy_response_body_bytes_total"
RECEIVED = "lbproxy_proxy_request_body_bytes_total"
# Time per request, by route: the total from lbproxy_proxy_duration_seconds, the part in the forwarder from
# lbproxy_proxy_upstream_duration_seconds (recorded only for requests that reached an origin, so it is divided by
# every request's count, and a route whose requests all were answered by the proxy reads 0 upstream).
ROUTE_REQUESTS = f'sum by (route) (rate(lbproxy_proxy_duration_seconds_count{s()}[{RI}]))'
ROUTE_TOTAL = f'sum by (route) (rate(lbproxy_proxy_duration_seconds_sum{s()}[{RI}]))'
ROUTE_UPSTREAM = (f'(sum by (route) (rate(lbproxy_proxy_upstream_duration_seconds_sum{s()}[{RI}])) '
                  f'or {ROUTE_TOTAL} * 0)')
REFUSED = f'sum by (instance) (rate(lbproxy_requests_refused_total{s()}[{RI}]))'
SERVED = f'sum by (instance) (rate(http_server_request_duration_seconds_count{s()}[{RI}]))'
# The resources the watchdog names culprits for.
CULPRIT_RESOURCES = s('resource=~"timers|threadpool_queue"')
# A 0 per instance until the first refusal: the counter has no series before it.
REFUSED_OR_ZERO = f'({REFUSED} or {SERVED} * 0)'

CPU = f'sum by (instance) (rate(dotnet_process_cpu_time_seconds_total{s()}[{RI}]))'
# Health is a per-replica fact: each replica probes every destination itself. Summed over replicas it double counts
# (two replicas, 5 destinations: 10); so it is kept per instance, or taken min/max across the fleet.
HEALTHY = f'lbproxy_destination_healthy{s()}'
HEALTHY_PER_REPLICA = f'sum by (instance, cluster) ({HEALTHY})'
# 1 for a destination one replica holds healthy and another not, 0 when they agree (also with one replica).
DISAGREE = ('max by (cluster, destination) (lbproxy_destination_healthy{' + SEL + ', cluster=~"$cluster"})'
            ' - min by (cluster, destination) (lbproxy_destination_healthy{' + SEL + ', cluster=~"$cluster"})')
RPS = f'sum by (instance) (rate({REQ}{s()}[{RI}]))'
TIMERS = f'sum by (instance) (dotnet_timer_count{s()})'
INFLIGHT = f'sum by (instance) (lbproxy_proxy_active_requests{s()})'

overview = dashboard(
    "lbproxy-overview", "LbProxy / Overview",
    "Traffic, errors, latency and the runtime figures that showed the story's leak.",
    [
        row("Traffic"),
        panel("Requests by status class", "Proxied requests per second (routes matched), by status class.",
              "reqps", [(f'sum by (status_class) ({STATUS_CLASS})', "{{status_class}}")], stack=True),
        panel("Latency p50 / p99", "Time from the proxy stage taking a request to its response being complete.",
              "s", [(p99("0.5", "le"), "p50"), (p99("0.99", "le"), "p99")]),
        panel("Error ratio (5xx)", "Share of proxied requests that ended in 5xx, per instance.",
              "percentunit", [(error_ratio("instance"), "{{instance}}")]),
        panel("In-flight requests", "Requests being forwarded now (YARP's per-destination count), and all requests Kestrel is handling (the scrape included).",
              "short", [(INFLIGHT, "proxied {{instance}}"),
                        (f'sum by (instance) (http_server_active_requests{s()})', "kestrel {{instance}}")]),
        panel("All HTTP requests by status (Kestrel)", "Every request the server answered, unrouted 404s and control-plane calls included.",
              "reqps", [(f'sum by (http_response_status_code) (rate(http_server_request_duration_seconds_count{s()}[{RI}]))',
                         "{{http_response_status_code}}")], stack=True),
        panel("Requests per replica", "Proxied requests per second each replica (instance) forwards, and the whole fleet's: "
              "each request is counted once, by the replica that took it. Replicas far apart: the Service or the "
              "client's connections do not spread evenly.", "reqps",
              [(RPS, "{{instance}}"), (f'sum(rate({REQ}{s()}[{RI}]))', "fleet")]),
        panel("Replicas", "LbProxy processes exporting metrics, per job: the fleet size as Prometheus sees it.", "short",
              [(f'count by (job) (lbproxy_config_generation{s()})', "{{job}}")]),
        row("Bytes and time per route"),
        panel("Response bytes by route and format", "Response body bytes written to clients per second, by route, cluster and "
              "format class (avif, webp, original; none on routes that do not negotiate): the first capacity figure of an "
              "image edge. Cache hits and the proxy's own answers included.", "Bps",
              [(f'sum by (route, cluster, format) (rate({SENT}{s()}[{RI}]))', "{{route}} {{cluster}} {{format}}")], stack=True),
        panel("Request bytes by route and format", "Request body bytes read from clients per second, by route, cluster and format "
              "class (uploads; 0 for GET traffic).", "Bps",
              [(f'sum by (route, cluster, format) (rate({RECEIVED}{s()}[{RI}]))', "{{route}} {{cluster}} {{format}}")], stack=True),
        panel("Latency per route p50 / p99", "Time from the proxy stage taking a request to its response being complete, per route.",
              "s", [(route_quantile("0.5"), "p50 {{route}}"), (route_quantile("0.99"), "p99 {{route}}")]),
        panel("Time upstream and in the proxy", "Mean time per request, per route: upstream is the time in the forwarder (sending "
              "to the origin until its response is copied, every attempt of a retry), proxy the rest of the total (rate limits, "
              "the cache, the admission queue, balancing). Proxy time growing at flat upstream time: LbProxy, not the origins.",
              "s", [(f'{ROUTE_UPSTREAM} / {ROUTE_REQUESTS}', "upstream {{route}}"),
                    (f'({ROUTE_TOTAL} - {ROUTE_UPSTREAM}) / {ROUTE_REQUESTS}', "proxy {{route}}")], stack=True),
        row("Edge"),
        panel("Refused requests by reason", "Requests Kestrel refused before the pipeline ran (malformed line or headers, body "
              "framing, header timeout, too large, ...), per second by reason; 0 when none. Each got a 4xx and never reached "
              "an origin (alert LbProxyRequestsRefused).", "reqps",
              [(f'sum by (reason) (rate(lbproxy_requests_refused_total{s()}[{RI}])) or sum by (reason) ({SERVED} * 0)',
                "{{reason}}")], stack=True),
        panel("Refused share", "Refused requests among all requests received (served + refused), per instance: what "
              "LbProxyRequestsRefused alerts on above 1% for 10 minutes.", "percentunit",
              [(f'{REFUSED_OR_ZERO} / ({SERVED} + {REFUSED_OR_ZERO})', "{{instance}}")]),
        panel("Certificate expiry", "Time left on the certificate served now for each SNI name (* for an endpoint's default), "
              "per endpoint: LbProxyCertificateExpiresSoon fires under 14 days. Only with HTTPS endpoints.", "s",
              [(f'min by (endpoint, sni) (lbproxy_tls_certificate_expiry_seconds{s()})', "{{endpoint}} {{sni}}")]),
        panel("Certificate rotations", "Certificate pairs changed on disk, applied (served to new handshakes) or refused (the last "
              "good pair keeps serving), over the interval.", "short",
              [(f'sum by (result) (increase(lbproxy_tls_rotations_total{s()}[{RI}]))', "{{result}}")], stack=True),
        row("Runtime at a glance"),
        panel("CPU (cores)", "CPU seconds per second, user and system.", "short", [(CPU, "{{instance}}")]),
        panel("Active timers", "System.Threading.Timer instances alive: the story's leak climbs here and never comes back.",
              "short", [(TIMERS, "{{instance}}")]),
        panel("Thread pool", "Thread-pool threads and work items waiting for a thread.", "short",
              [(f'sum by (instance) (dotnet_thread_pool_thread_count{s()})', "threads {{instance}}"),
               (f'sum by (instance) (dotnet_thread_pool_queue_length{s()})', "queued {{instance}}")]),
        panel("Memory", "Working set and GC heap size after the last collection.", "bytes",
              [(f'sum by (instance) (dotnet_process_memory_working_set_bytes{s()})', "working set {{instance}}"),
               (f'sum by (instance) (dotnet_gc_last_collection_heap_size_bytes{s()})', "GC heap {{instance}}")]),
        row("Health and config"),
        panel("Healthy destinations per replica", "Destinations each replica (instance) may send traffic to, out of those it has "
              "(configured, or resolved from DNS). Per replica, never summed over replicas: two replicas that both see 5 "
              "destinations show 5 twice, not 10.", "short",
              [(f'{HEALTHY_PER_REPLICA}', "healthy {{instance}} {{cluster}}"),
               (f'count by (instance, cluster) ({HEALTHY})', "of {{instance}} {{cluster}}")]),
        panel("Healthy destinations, fleet", "Across the replicas: the fewest and the most healthy destinations any one replica "
              "sees, per cluster. Apart: the replicas disagree on health (Upstreams, Replicas disagreeing on health).", "short",
              [(f'min by (cluster) ({HEALTHY_PER_REPLICA})', "fewest {{cluster}}"),
               (f'max by (cluster) ({HEALTHY_PER_REPLICA})', "most {{cluster}}")]),
        panel("Config generation", "Generation of the applied config, and whether the last reload succeeded (1) or was rejected (0).",
              "short", [(f'max by (instance) (lbproxy_config_generation{s()})', "generation {{instance}}"),
                        (f'min by (instance) (lbproxy_config_last_reload_success{s()})', "last reload ok {{instance}}")]),
        panel("Access-log lines", "Every access-log line's fate per second.", "cps",
              [(f'sum by (outcome) (rate(lbproxy_accesslog_lines_total{s()}[{RI}]))', "{{outcome}}")], stack=True),
        panel("GC collections", "Collections per second by the generation collected.", "ops",
              [(f'sum by (gc_heap_generation) (rate(dotnet_gc_collections_total{s()}[{RI}]))', "{{gc_heap_generation}}")]),
    ])

runtime = dashboard(
    "lbproxy-runtime", "LbProxy / Runtime",
    "CPU, timers, thread pool, GC and memory: the .NET counterparts of go_goroutines and friends.",
    [
        row("CPU"),
        panel("CPU (cores)", "CPU seconds per second by mode.", "short",
              [(f'sum by (instance, cpu_mode) (rate(dotnet_process_cpu_time_seconds_total{s()}[{RI}]))', "{{cpu_mode}} {{instance}}")], stack=True),
        panel("CPU per request", "CPU seconds spent per proxied request. Rising at flat traffic: work that grows with time, not load.",
              "s", [(f'{CPU} / {RPS}', "{{instance}}")]),
        row("Timers"),
        panel("Active timers", "System.Threading.Timer instances alive (Task.Delay, CancelAfter and PeriodicTimer included).",
              "short", [(TIMERS, "{{instance}}")]),
        panel("Timers per in-flight request", "Active timers divided by in-flight requests (at least 1). Steady under any load when healthy; rising when timers outlive their requests.",
              "short", [(f'{TIMERS} / clamp_min({INFLIGHT}, 1)', "{{instance}}")]),
        row("Thread pool"),
        panel("Thread-pool threads", "Threads in the pool.", "short",
              [(f'sum by (instance) (dotnet_thread_pool_thread_count{s()})', "{{instance}}")]),
        panel("Thread-pool queue", "Work items waiting for a thread: above 0 for long means starvation.", "short",
              [(f'sum by (instance) (dotnet_thread_pool_queue_length{s()})', "{{instance}}")]),
        panel("Work items completed", "Thread-pool work items completed per second.", "ops",
              [(f'sum by (instance) (rate(dotnet_thread_pool_work_item_count_total{s()}[{RI}]))', "{{instance}}")]),
        panel("Lock contentions", "Monitor lock contentions per second.", "ops",
              [(f'sum by (instance) (rate(dotnet_monitor_lock_contentions_total{s()}[{RI}]))', "{{instance}}")]),
        row("GC and memory"),
        panel("GC heap by generation", "Heap size per generation as of the last collection.", "bytes",
              [(f'sum by (gc_heap_generation) (dotnet_gc_last_collection_heap_size_bytes{s()})', "{{gc_heap_generation}}")], stack=True),
        panel("Allocation rate", "Bytes allocated on the managed heap per second.", "Bps",
              [(f'sum by (instance) (rate(dotnet_gc_heap_total_allocated_bytes_total{s()}[{RI}]))', "{{instance}}")]),
        panel("Working set and committed memory", "Process working set and memory the GC has committed.", "bytes",
              [(f'sum by (instance) (dotnet_process_memory_working_set_bytes{s()})', "working set {{instance}}"),
               (f'sum by (instance) (dotnet_gc_last_collection_memory_committed_size_bytes{s()})', "GC committed {{instance}}")]),
        panel("GC pause time", "Share of time the runtime spent paused in GC.", "percentunit",
              [(f'sum by (instance) (rate(dotnet_gc_pause_time_seconds_total{s()}[{RI}]))', "{{instance}}")]),
        row("Leak watchdog"),
        panel("Watchdog suspects", "1 while the leak watchdog suspects a resource of growing with time or with requests "
              "served (docs/leaks.md), per resource and instance; 0 when it does not.", "short",
              [(f'max by (instance, resource) (lbproxy_watchdog_suspect{s()})', "{{resource}} {{instance}}")]),
        panel("Watchdog culprits", "The owners whose timers (or queued work items) grew since the baseline census, named when "
              "the suspicion was declared: 1 each while the resource is a suspect; 0 (owner \"none named\") otherwise.",
              "short",
              [(f'max by (resource, owner) (lbproxy_watchdog_culprit_info{s()}) or on (resource) '
                f'label_replace(max by (resource) (lbproxy_watchdog_suspect{CULPRIT_RESOURCES}) * 0, '
                f'"owner", "none named", "", "")', "{{resource}}: {{owner}}")]),
        row("Connections"),
        panel("Client connections", "Connections Kestrel holds open from clients.", "short",
              [(f'sum by (instance) (kestrel_active_connections{s()})', "{{instance}}")]),
        panel("Upstream connections", "Connections to origins by state (active health probes included).", "short",
              [(f'sum by (http_connection_state) (http_client_open_connections{s()})', "{{http_connection_state}}")], stack=True),
    ])

US = 'cluster=~"$cluster"'
# A 0 per cluster with admission limits, for a counter that has no series until its first event.
ZERO_PER_CLUSTER = f'sum by (cluster) (lbproxy_admission_limit{s(US)}) * 0'


RATE_LIMITED = s(US + ', reason="rate_limited"')


def queue_wait(q):
    return (f'histogram_quantile({q}, sum by (cluster, le) '
            f'(rate(lbproxy_admission_queue_wait_seconds_bucket{s(US)}[{RI}])))')


DROPPED = s('outcome="dropped"')
upstreams = dashboard(
    "lbproxy-upstreams", "LbProxy / Upstreams",
    "Per-destination traffic, health, latency, retries and forwarding errors.",
    [
        row("Destinations"),
        panel("Requests per destination", "Proxied requests per second by destination.", "reqps",
              [(f'sum by (cluster, destination) (rate({REQ}{s(US)}[{RI}]))', "{{cluster}}/{{destination}}")], stack=True),
        panel("Destination health", "1 when YARP may send the destination traffic, 0 when health checks or an ejection mark it "
              "unhealthy; across replicas the lowest (0 when any replica holds it unhealthy).",
              "bool", [(f'min by (cluster, destination) (lbproxy_destination_healthy{s(US)})', "{{cluster}}/{{destination}}")]),
        panel("Replicas disagreeing on health", "1 for a destination that one replica holds healthy and another unhealthy, 0 when "
              "every replica agrees. A lasting 1: the replicas see the origin differently (a network path, a policy, a "
              "probe timing out from some nodes), and their consistent hashing sends its keys to different origins.",
              "short", [(DISAGREE, "{{cluster}}/{{destination}}")]),
        panel("Healthy destinations per replica", "Healthy destinations of each cluster as each replica (instance) sees them. "
              "Lines apart: the replicas disagree (see Replicas disagreeing on health).", "short",
              [(f'sum by (instance, cluster) (lbproxy_destination_healthy{s(US)})', "{{instance}} {{cluster}}")]),
        panel("In-flight per destination", "Requests being forwarded to each destination now.", "short",
              [(f'sum by (cluster, destination) (lbproxy_proxy_active_requests{s(US)})', "{{cluster}}/{{destination}}")]),
        panel("p99 per destination", "99th percentile of proxied request time per destination.", "s",
              [(f'histogram_quantile(0.99, sum by (cluster, destination, le) (rate(lbproxy_proxy_duration_seconds_bucket{s(US)}[{RI}])))',
                "{{cluster}}/{{destination}}")]),
        panel("Outlier ejections", "Ejections after consecutive 5xx answers (ejected), and those not made because MaxEjectedPercent of the cluster was already out (capped). Only clusters with OutlierEjection metadata.",
              "short", [(f'sum by (cluster, destination, outcome) (increase(lbproxy_outlier_ejections_total{s(US)}[{RI}]))', "{{cluster}}/{{destination}} {{outcome}}")]),
        row("Origin protection"),
        panel("In-flight vs limit per destination", "Requests admitted to each destination now, against its concurrency limit "
              "(Concurrency.MaxPerDestination, or the adaptive limit under it). At the limit: the destination is busy and "
              "further requests queue. Only clusters with Concurrency metadata.",
              "short", [(f'sum by (cluster, destination) (lbproxy_admission_in_flight{s(US)})', "in flight {{cluster}}/{{destination}}"),
                        (f'min by (cluster, destination) (lbproxy_admission_limit{s(US)})', "limit {{cluster}}/{{destination}}")]),
        panel("Queue length", "Requests of each cluster waiting for a slot now (at most Concurrency.MaxQueue).", "short",
              [(f'sum by (cluster) (lbproxy_admission_queue_length{s(US)})', "{{cluster}}")]),
        panel("Queue wait p50 / p99", "Time requests that queued waited for a slot (0 while none queue). Near Concurrency.QueueTimeout: requests are timing out of the queue too.",
              "s", [(f'{queue_wait("0.5")} or {ZERO_PER_CLUSTER}', "p50 {{cluster}}"),
                    (f'{queue_wait("0.99")} or {ZERO_PER_CLUSTER}', "p99 {{cluster}}")]),
        panel("Edge capacity per cluster", "Proxied requests of each cluster holding a slot of the edge's own cap "
              "(LbProxy:Forwarding:MaxRequestsPerDestination for each available destination), against the cap, and those "
              "waiting for a turn. At the cap: a flood of client streams is held at the edge; waits past CapacityQueueTimeout "
              "are shed as cluster_capacity.",
              "short", [(f'sum by (cluster) (lbproxy_cluster_capacity_in_flight{s(US)})', "in flight {{cluster}}"),
                        (f'min by (cluster) (lbproxy_cluster_capacity_limit{s(US)})', "cap {{cluster}}"),
                        (f'sum by (cluster) (lbproxy_cluster_capacity_waiting{s(US)})', "waiting {{cluster}}")]),
        panel("Shed requests by reason", "Requests answered by LbProxy instead of forwarded, per second: queue_full and queue_timeout "
              "(503 with Retry-After), client_gone (left while queued), rate_limited (429), cluster_capacity (the edge's cap, 503). 0 when none.",
              "reqps", [(f'sum by (cluster, reason) (rate(lbproxy_shed_requests_total{s(US)}[{RI}])) or {ZERO_PER_CLUSTER}',
                         "{{cluster}} {{reason}}")], stack=True),
        panel("Degraded formats", "Requests sent upstream one class cheaper than negotiated (Concurrency.DegradeFormats), by from -> to, "
              "per second. 0 when none.",
              "reqps", [(f'sum by (cluster, from, to) (rate(lbproxy_image_degraded_total{s(US)}[{RI}])) or {ZERO_PER_CLUSTER}',
                         "{{cluster}} {{from}} -> {{to}}")], stack=True),
        panel("Rate-limited", "Requests refused with 429 by a route's RateLimiterPolicy (LbProxy:RateLimits), per second. 0 when none.",
              "reqps", [(f'sum by (cluster) (rate(lbproxy_shed_requests_total{RATE_LIMITED}[{RI}])) or {ZERO_PER_CLUSTER}',
                         "{{cluster}}")]),
        row("Retries and errors"),
        panel("Retries by outcome", "Retry attempts (succeeded, failed) and retries not sent (budget_exhausted, no_destination).",
              "ops", [(f'sum by (cluster, outcome) (rate(lbproxy_proxy_retries_total{s(US)}[{RI}]))', "{{cluster}} {{outcome}}")]),
        panel("Forwarding errors", "Requests YARP failed to forward, by ForwarderError kind (NoAvailableDestinations is the 503 of a cluster with no healthy destination).",
              "ops", [(f'sum by (cluster, error) (rate(lbproxy_proxy_errors_total{s(US)}[{RI}]))', "{{cluster}} {{error}}")]),
        panel("Upstream request time p99", "HttpClient's view of origin requests, all origins together (active health probes included); per destination, see p99 per destination.", "s",
              [(f'histogram_quantile(0.99, sum by (instance, le) (rate(http_client_request_duration_seconds_bucket{s()}[{RI}])))',
                "{{instance}}")]),
        panel("Upstream responses by status", "Responses from origins per second, by status code.", "reqps",
              [(f'sum by (http_response_status_code) (rate(http_client_request_duration_seconds_count{s()}[{RI}]))',
                "{{http_response_status_code}}")], stack=True),
    ], extra_vars=[CLUSTER_VAR])

config_logs = dashboard(
    "lbproxy-config-logs", "LbProxy / Config and logs",
    "Config generation and reloads, access-log lines written, skipped and dropped.",
    [
        row("Config"),
        panel("Config generation", "Generation of the applied config: 1 at start, one more per applied reload.", "short",
              [(f'max by (instance) (lbproxy_config_generation{s()})', "{{instance}}")]),
        panel("Last reload succeeded", "0 after a rejected reload (the last good config keeps serving), else 1.", "bool",
              [(f'min by (instance) (lbproxy_config_last_reload_success{s()})', "{{instance}}")]),
        panel("Reloads by result", "Config reloads per result over the chosen interval.", "short",
              [(f'sum by (result) (increase(lbproxy_config_reloads_total{s()}[{RI}]))', "{{result}}")], stack=True),
        row("Access log"),
        panel("Access-log lines by outcome", "Lines written, dropped (buffer full) or skipped by a filter rule, per second.", "cps",
              [(f'sum by (outcome) (rate(lbproxy_accesslog_lines_total{s()}[{RI}]))', "{{outcome}}")], stack=True),
        panel("Access-log lines dropped", "Dropped lines per second, 0 when none (the writer kept up).", "cps",
              [(f'sum by (instance) (rate(lbproxy_accesslog_lines_total{DROPPED}[{RI}])) '
                f'or sum by (instance) (rate(lbproxy_accesslog_lines_total{s()}[{RI}])) * 0', "{{instance}}")]),
    ])

ANSWERED_FROM_MEMORY = s('result=~"hit|stale"')
NOT_BYPASSED = s('result!="bypass"')


def cache_row():
    """The hot set (src/LbProxy/Caching, docs/cache.md): the hit ratio, what it holds against its limit, evictions
    and purges, background refreshes. lbproxy_cache_requests_total has series for cached routes only (every result
    at 0 once the config is applied): the hit ratio has no data where no route is cached."""
    return [
        row("Hot set"),
        panel("Hit ratio", "Requests of cached routes answered from memory (fresh, or stale while refreshed or on an origin "
              "failure) over every request that could have been; bypasses (credentials, other methods) left out. "
              "No data when no route is cached.", "percentunit",
              [(f'sum by (instance) (rate(lbproxy_cache_requests_total{ANSWERED_FROM_MEMORY}[{RI}])) '
                f'/ sum by (instance) (rate(lbproxy_cache_requests_total{NOT_BYPASSED}[{RI}]))', "{{instance}}")]),
        panel("Background refreshes", "Refreshes of stale entries per second by result: stored, revalidated (304), dropped "
              "(the origin answered something not to store), failed (the stale entry stays), skipped (every refresh slot busy).", "ops",
              [(f'sum by (result) (rate(lbproxy_cache_refreshes_total{s()}[{RI}]))', "{{result}}")], stack=True),
        panel("Hot set bytes", "Bytes the hot set holds (headers and bodies, as counted against the limit), and the limit: never above it.", "bytes",
              [(f'sum by (instance) (lbproxy_cache_bytes{s()})', "held {{instance}}"),
               (f'max by (instance) (lbproxy_cache_limit_bytes{s()})', "limit {{instance}}")]),
        panel("Hot set entries", "Responses the hot set holds.", "short",
              [(f'sum by (instance) (lbproxy_cache_entries{s()})', "{{instance}}")]),
        panel("Evictions and purges", "Entries evicted per second to make room, and purge requests per second by scope (path, all).", "ops",
              [(f'sum by (instance) (rate(lbproxy_cache_evictions_total{s()}[{RI}]))', "evicted {{instance}}"),
               (f'sum by (scope) (rate(lbproxy_cache_purges_total{s()}[{RI}]))', "purges {{scope}}")]),
    ]


images = dashboard(
    "lbproxy-images", "LbProxy / Images",
    "Image format negotiation: requests and bytes by the format class served; the hot set: bytes, entries, evictions, purges.",
    [
        row("Formats"),
        panel("Requests by format", "Requests of negotiating routes per second by format class (avif, webp, original).", "reqps",
              [(f'sum by (format) (rate(lbproxy_image_requests_total{s()}[{RI}]))', "{{format}}")], stack=True),
        panel("Format share", "Share of each format class among negotiated requests.", "percentunit",
              [(f'sum by (format) (rate(lbproxy_image_requests_total{s()}[{RI}])) / scalar(sum(rate(lbproxy_image_requests_total{s()}[{RI}])))',
                "{{format}}")], stack=True),
        row("Bytes by format"),
        panel("Response bytes by format", "Response body bytes written to clients per second by format class, all routes (none: "
              "routes that do not negotiate): what each class costs the edge's bandwidth.", "Bps",
              [(f'sum by (format) (rate({SENT}{s()}[{RI}]))', "{{format}}")], stack=True),
        panel("Byte share by format", "Share of each format class among the response bytes written to clients.", "percentunit",
              [(f'sum by (format) (rate({SENT}{s()}[{RI}])) / scalar(sum(rate({SENT}{s()}[{RI}])))', "{{format}}")], stack=True),
        *cache_row(),
    ])

def main():
    """Writes the dashboards; with --check writes nothing and exits 1 if a committed file differs."""
    check = "--check" in sys.argv[1:]
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dashboards")
    os.makedirs(out, exist_ok=True)
    stale = []
    for d in (overview, runtime, upstreams, config_logs, images):
        path = os.path.join(out, d["uid"] + ".json")
        text = json.dumps(d, indent=2) + "\n"
        if check:
            current = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
            if current != text:
                stale.append(path)
            continue
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        print(path, sum(1 for p in d["panels"] if p["type"] != "row"), "panels", file=sys.stderr)
    for path in stale:
        print(f"{path} is stale: run python3 deploy/grafana/gen_dashboards.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
