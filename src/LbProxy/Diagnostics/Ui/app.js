// LbProxy live page. No library, no inline code (the page's CSP is default-src 'self'), nothing from
// elsewhere. Polls ui/data?since=SEQ every interval; the answer carries only the samples after SEQ.
'use strict';

(() => {
  const CHARTS = [
    { id: 'cpu', title: 'CPU', unit: '%', series: [['cpu', 'process']], fmt: v => v.toFixed(1) + ' %' },
    { id: 'timers', title: 'Active timers', series: [['timers', 'timers']], fmt: v => v.toFixed(0), watch: ['timers'] },
    { id: 'threadpool', title: 'Thread pool', series: [['threads', 'threads'], ['queue', 'queue']], fmt: v => v.toFixed(0), watch: ['threadpool_threads', 'threadpool_queue'] },
    { id: 'rps', title: 'Requests / s by status', series: [['rps2xx', '2xx'], ['rps3xx', '3xx'], ['rps4xx', '4xx'], ['rps5xx', '5xx']], fmt: v => v.toFixed(0) },
    { id: 'latency', title: 'Latency', series: [['p50', 'p50'], ['p99', 'p99']], fmt: v => v < 1 ? (v * 1000).toFixed(0) + ' µs' : v.toFixed(1) + ' ms' },
    { id: 'inflight', title: 'In-flight requests', series: [['inflight', 'in flight']], fmt: v => v.toFixed(0) },
    { id: 'memory', title: 'Memory', series: [['workingSet', 'working set'], ['gcHeap', 'GC heap']], fmt: v => (v / 1048576).toFixed(0) + ' MiB', watch: ['working_set'] },
    { id: 'connections', title: 'Connections', series: [['clientConnections', 'client'], ['upstreamConnections', 'upstream']], fmt: v => v.toFixed(0), watch: ['connections'] },
    { id: 'alloc', title: 'Allocation rate', series: [['allocRate', 'alloc']], fmt: v => (v / 1048576).toFixed(1) + ' MiB/s' },
  ];

  const base = document.documentElement.dataset.base; // '/_lb/ui': the prefix is written into the page once, at start
  const data = { seq: 0, capacity: 450, t: [], cols: {} };
  let intervalMs = 2000;
  let timer = 0;
  let failures = 0;
  let updates = 0;

  const $ = id => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };

  function buildCharts() {
    const root = $('charts');
    for (const c of CHARTS) {
      const box = el('div', 'chart');
      box.id = 'chart-' + c.id;
      const h = el('h3');
      h.append(el('span', '', c.title), el('span', 'last'));
      const canvas = el('canvas');
      canvas.dataset.points = '0';
      const legend = el('div', 'legend');
      c.series.forEach(([, label], i) => {
        const s = el('span');
        s.append(el('i', 's' + i), document.createTextNode(label));
        legend.append(s);
      });
      box.append(h, canvas, legend);
      root.append(box);
      c.box = box;
      c.canvas = canvas;
      c.last = h.lastChild;
    }
  }

  const COLORS = ['#1565c0', '#2e7d32', '#ef6c00', '#c62828', '#6a1b9a'];

  function draw(c) {
    const canvas = c.canvas;
    const ratio = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * ratio)) { canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio); }
    const g = canvas.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, w, h);
    const t = data.t;
    const n = t.length;
    canvas.dataset.points = String(n);
    if (n === 0) return;
    let max = 0;
    for (const [key] of c.series) for (const v of data.cols[key] || []) if (v > max) max = v;
    max = max > 0 ? niceCeil(max) : 1;
    const left = 44, right = w - 4, top = 6, bottom = h - 16;
    const t0 = t[0], t1 = Math.max(t[n - 1], t0 + 1);
    const x = ts => left + (right - left) * (ts - t0) / (t1 - t0);
    const y = v => bottom - (bottom - top) * v / max;
    g.strokeStyle = '#e4e7eb'; g.fillStyle = '#667'; g.lineWidth = 1; g.font = '10px system-ui, sans-serif';
    for (let k = 0; k <= 2; k++) {
      const v = max * k / 2, yy = Math.round(y(v)) + 0.5;
      g.beginPath(); g.moveTo(left, yy); g.lineTo(right, yy); g.stroke();
      g.fillText(c.fmt(v), 2, yy + 3);
    }
    g.fillText(new Date(t0).toLocaleTimeString(), left, h - 3);
    const end = new Date(t[n - 1]).toLocaleTimeString();
    g.fillText(end, right - g.measureText(end).width, h - 3);
    c.series.forEach(([key], i) => {
      const col = data.cols[key];
      if (!col) return;
      g.strokeStyle = COLORS[i]; g.lineWidth = 1.5; g.beginPath();
      for (let j = 0; j < n; j++) { const xx = x(t[j]), yy = y(col[j]); if (j) g.lineTo(xx, yy); else g.moveTo(xx, yy); }
      g.stroke();
    });
    const first = data.cols[c.series[0][0]];
    if (first && first.length) {
      canvas.dataset.last = String(first[first.length - 1]);
      canvas.dataset.first = String(first[0]);
      c.last.textContent = c.series.map(([key]) => c.fmt(data.cols[key][data.cols[key].length - 1])).join(' · ');
    }
  }

  function niceCeil(v) {
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  function append(s) {
    if (s.reset) { data.t = []; data.cols = {}; }
    data.capacity = s.capacity || data.capacity;
    const count = s.t.length;
    data.t.push(...s.t);
    for (const [key, values] of Object.entries(s.columns)) {
      (data.cols[key] ||= []).push(...values);
    }
    const excess = data.t.length - data.capacity;
    if (excess > 0) {
      data.t.splice(0, excess);
      for (const col of Object.values(data.cols)) col.splice(0, excess);
    }
    return count;
  }

  function renderStatus(st) {
    $('version').textContent = st.version;
    $('summary').textContent = `up ${formatDuration(st.uptimeSeconds)} · ${st.ready ? 'ready' : st.draining ? 'draining' : 'not ready'}`;
    const body = $('destinations').tBodies[0];
    body.replaceChildren();
    for (const cl of st.clusters) {
      for (const d of cl.destinations) {
        const tr = el('tr', d.available ? '' : 'unhealthy');
        tr.dataset.cluster = cl.id; tr.dataset.destination = d.id; tr.dataset.healthy = String(d.available);
        tr.append(el('td', '', cl.id), el('td', '', d.id), el('td', '', d.address),
          el('td', 'health', d.available ? 'healthy' : `unhealthy (active ${d.activeHealth}, passive ${d.passiveHealth})`),
          el('td', 'num', String(d.inFlight)), el('td', 'num', d.requests.toLocaleString()));
        body.append(tr);
      }
    }
    renderAdmission(st.admission || []);
    const cfg = st.config;
    fill($('config'), [
      ['generation', cfg.generation], ['hash', cfg.hash.slice(0, 12)], ['applied', new Date(cfg.appliedAt).toLocaleString()],
      ['last reload', cfg.lastReloadSucceeded ? 'applied' : 'rejected'],
      ['reloads', `${cfg.reloadsApplied} applied, ${cfg.reloadsRejected} rejected, ${cfg.reloadsUnchanged} unchanged`],
      ...(cfg.lastError ? [['last error', cfg.lastError, 'error']] : []),
    ]);
    const al = st.accessLog;
    fill($('accesslog'), [
      ['enabled', String(al.enabled)], ['written', al.written], ['dropped', al.dropped, al.dropped ? 'error' : ''],
      ['pending', al.pending], ...Object.entries(al.skipped).map(([k, v]) => ['skipped ' + k, v]),
    ]);
    const ca = st.cache;
    if (ca) fill($('cache'), [
      ['hit ratio', ca.hitRatio == null ? '–' : (ca.hitRatio * 100).toFixed(1) + ' %'],
      ['bytes', `${formatBytes(ca.bytes)} of ${formatBytes(ca.limitBytes)}`], ['entries', ca.entries], ['evictions', ca.evictions],
      ['requests', `${ca.hits} hit, ${ca.misses} miss, ${ca.stale} stale, ${ca.collapsed} collapsed, ${ca.bypassed} bypass`],
    ]);
    renderWatchdog(st.watchdog);
  }

  function formatBytes(b) {
    return b >= 1048576 ? (b / 1048576).toFixed(1) + ' MiB' : b >= 1024 ? (b / 1024).toFixed(1) + ' KiB' : b + ' B';
  }

  // Clusters with Concurrency.MaxPerDestination: per destination in flight / limit (adaptive or fixed), per
  // cluster its queue; a destination at its limit is marked busy (not unhealthy).
  function renderAdmission(clusters) {
    $('admission').hidden = clusters.length === 0;
    const body = $('admission-table').tBodies[0];
    body.replaceChildren();
    for (const cl of clusters) {
      cl.destinations.forEach((d, i) => {
        const tr = el('tr', d.inFlight >= d.limit ? 'busy' : '');
        tr.dataset.cluster = cl.id; tr.dataset.destination = d.id;
        tr.append(el('td', '', cl.id), el('td', '', d.id), el('td', 'num', String(d.inFlight)),
          el('td', 'num', cl.adaptive ? `${d.limit} of ${cl.maxPerDestination}` : String(d.limit)),
          el('td', 'num', i === 0 ? `${cl.queueLength} / ${cl.maxQueue}` : ''));
        body.append(tr);
      });
    }
  }

  function fill(dl, rows) {
    dl.replaceChildren();
    for (const [k, v, cls] of rows) dl.append(el('dt', '', k), el('dd', cls || '', String(v)));
  }

  // The owners a census found grown (timers, queue): what leaks them, as pprof's goroutine view would name it.
  function culprits(r) {
    return r.culprits && r.culprits.length
      ? ': grew ' + r.culprits.map(c => `${c.owner} +${c.growth.toLocaleString('en')}`).join(', ')
      : '';
  }

  function renderWatchdog(w) {
    const box = $('watchdog');
    const suspects = w.resources.filter(r => r.state === 'suspect');
    const pending = w.resources.filter(r => r.state === 'pending');
    const state = suspects.length ? 'suspect' : pending.length ? 'pending' : 'ok';
    box.className = 'watchdog ' + state;
    box.dataset.state = state;
    $('watchdog-text').textContent = suspects.length
      ? 'Suspected leak: ' + suspects.map(r => `${r.resource} (${r.reason})` + culprits(r)).join('; ')
      : w.warmingUp ? 'warming up' : pending.length ? 'watching: ' + pending.map(r => r.resource).join(', ') : 'no suspect';
    const body = $('watchdog-table').tBodies[0];
    body.replaceChildren();
    for (const r of w.resources) {
      const tr = el('tr', r.state === 'suspect' ? 'unhealthy' : '');
      tr.dataset.resource = r.resource;
      tr.append(el('td', '', r.resource), el('td', '', r.state), el('td', 'num', fmtNum(r.current)), el('td', 'num', fmtNum(r.baseline)),
        el('td', 'num', r.slopePer1000Requests == null ? '' : r.slopePer1000Requests.toFixed(1)),
        el('td', 'num', r.windowSeconds ? r.windowSeconds.toFixed(0) + ' s' : ''), el('td', '', r.since ? new Date(r.since).toLocaleTimeString() : ''));
      body.append(tr);
    }
    for (const c of CHARTS) {
      const hit = (c.watch || []).some(res => suspects.some(s => s.resource === res));
      c.box.classList.toggle('suspect', hit);
    }
  }

  const fmtNum = v => v == null ? '' : Math.abs(v) >= 1e6 ? (v / 1048576).toFixed(0) + ' Mi' : Number(v).toFixed(0);
  const formatDuration = s => s < 120 ? `${s.toFixed(0)} s` : s < 7200 ? `${(s / 60).toFixed(0)} min` : `${(s / 3600).toFixed(1)} h`;

  async function poll() {
    timer = 0;
    try {
      const r = await fetch(`${base}/data?since=${data.seq}`, { cache: 'no-store', credentials: 'same-origin' });
      if (r.status === 401) { $('conn').textContent = 'not authorized: open ui?token=…'; $('conn').className = 'conn stale'; return; }
      if (!r.ok) throw new Error('HTTP ' + r.status);
      const body = await r.json();
      intervalMs = body.intervalSeconds * 1000;
      append(body.samples);
      data.seq = body.seq;
      renderStatus(body.status);
      for (const c of CHARTS) draw(c);
      failures = 0;
      updates++;
      document.body.dataset.updates = String(updates);
      document.body.dataset.seq = String(data.seq);
      $('conn').textContent = 'updated ' + new Date().toLocaleTimeString();
      $('conn').className = 'conn';
    } catch (e) {
      failures++;
      $('conn').textContent = 'no answer: ' + e.message;
      $('conn').className = 'conn stale';
    }
    schedule();
  }

  // A hidden tab polls nothing; coming back fetches what it missed in one request.
  function schedule() {
    if (!timer && !document.hidden) timer = setTimeout(poll, failures ? Math.min(30000, intervalMs * 2 ** failures) : intervalMs);
  }
  document.addEventListener('visibilitychange', () => { if (!document.hidden && !timer) poll(); });
  window.addEventListener('resize', () => { for (const c of CHARTS) draw(c); });

  buildCharts();
  $('footer').textContent = 'Samples every few seconds, the last 15 minutes; from this proxy alone.';
  poll();
})();
