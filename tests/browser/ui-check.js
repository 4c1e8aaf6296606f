// Opens LbProxy's live page in headless Chromium (Debian's, driven by playwright-core), waits for what it is
// asked to wait for, and prints one JSON report on stdout. Exit 0 when every wait succeeded, 1 when one timed
// out (the report says which), 2 on a usage or launch error. Used by the C# browser tests; runnable by hand:
//   node ui-check.js --url http://127.0.0.1:8080 --token T --screenshot out.png [--prefix /_lb]
//        [--wait-updates 3] [--wait-unhealthy CLUSTER/DEST] [--wait-suspect timers] [--timeout 60]
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

function args(argv) {
  const a = { prefix: '/_lb', waitUpdates: 3, timeout: 60, executable: process.env.CHROMIUM || '/usr/bin/chromium' };
  for (let i = 2; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '').replace(/-(\w)/g, (_, c) => c.toUpperCase());
    a[k] = argv[i + 1];
  }
  a.waitUpdates = Number(a.waitUpdates);
  a.timeout = Number(a.timeout) * 1000;
  return a;
}

async function main() {
  const a = args(process.argv);
  if (!a.url) { console.error('--url is required'); process.exit(2); }
  const report = { ok: true, failures: [], console: [], cspViolations: [], requests: 0 };
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lbproxy-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: a.executable,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--disable-dev-shm-usage'],
      viewport: { width: 1400, height: 1000 },
      timeout: 30000,
    });
    report.browserVersion = context.browser() ? context.browser().version() : undefined;
    const page = context.pages()[0] || await context.newPage();
    page.on('console', m => { if (m.type() === 'error' || m.type() === 'warning') report.console.push(m.text()); });
    page.on('pageerror', e => report.console.push('pageerror: ' + e.message));
    page.on('request', r => { report.requests++; if (!r.url().startsWith(a.url)) report.failures.push('request outside the proxy: ' + r.url()); });
    const ui = a.url.replace(/\/$/, '') + a.prefix + '/ui';

    // 1. without the token: 401
    // (through the context's request API: a navigation to an empty-bodied 401 is a net error in Chromium)
    const anonymous = await context.request.get(ui, { maxRedirects: 0 });
    report.withoutToken = anonymous.status();
    report.withoutTokenData = (await context.request.get(ui + '/data?since=0', { maxRedirects: 0 })).status();
    // 2. the token once; the answer sets the cookie and redirects to the bare page
    const first = await page.goto(ui + '?token=' + encodeURIComponent(a.token || ''), { waitUntil: 'domcontentloaded' });
    report.withToken = first.status();
    report.finalUrl = page.url();
    report.csp = (await first.allHeaders())['content-security-policy'];
    report.cookies = (await context.cookies()).map(c => ({ name: c.name, path: c.path, httpOnly: c.httpOnly, sameSite: c.sameSite, secure: c.secure }));
    await page.evaluate(() => document.addEventListener('securitypolicyviolation', e => (window.__csp ||= []).push(e.violatedDirective + ' ' + e.blockedURI)));

    const deadline = Date.now() + a.timeout;
    const left = () => Math.max(1000, deadline - Date.now());
    const wait = async (what, fn, arg) => {
      try { await page.waitForFunction(fn, arg, { timeout: left(), polling: 250 }); }
      catch { report.ok = false; report.failures.push('timed out waiting for ' + what); }
    };
    // 3. data arrives, and keeps arriving: the charts' point counts and the sequence number move
    await wait(`${a.waitUpdates} updates`, n => Number(document.body.dataset.updates || 0) >= n, a.waitUpdates);
    const charts = () => page.$$eval('.chart', els => els.map(e => {
      const c = e.querySelector('canvas');
      return { id: e.id.replace('chart-', ''), points: Number(c.dataset.points), last: c.dataset.last === undefined ? null : Number(c.dataset.last),
        width: c.width, suspect: e.classList.contains('suspect') };
    }));
    const before = await charts();
    const seqBefore = Number(await page.evaluate(() => document.body.dataset.seq));
    await wait('a newer sample', s => Number(document.body.dataset.seq) > s, seqBefore);
    report.charts = await charts();
    report.chartsMoved = report.charts.filter(c => c.points > 0 && before.find(b => b.id === c.id && b.points < c.points)).map(c => c.id);
    // 4. optional waits on what the test did to the proxy
    if (a.waitUnhealthy) {
      const [cluster, dest] = a.waitUnhealthy.split('/');
      await wait(`${a.waitUnhealthy} unhealthy`, ([c, d]) => !!document.querySelector(`#destinations tr[data-cluster="${c}"][data-destination="${d}"][data-healthy="false"]`), [cluster, dest]);
    }
    if (a.waitSuspect) {
      await wait(`watchdog suspect ${a.waitSuspect}`, r => document.getElementById('watchdog').dataset.state === 'suspect'
        && !!document.querySelector(`#watchdog-table tr[data-resource="${r}"]`)?.textContent.includes('suspect'), a.waitSuspect);
      report.charts = await charts();
    }
    report.destinations = await page.$$eval('#destinations tbody tr', rows => rows.map(r => ({ cluster: r.dataset.cluster, destination: r.dataset.destination, healthy: r.dataset.healthy === 'true', cells: [...r.cells].map(c => c.textContent) })));
    report.watchdog = { state: await page.$eval('#watchdog', e => e.dataset.state), text: await page.$eval('#watchdog-text', e => e.textContent) };
    report.config = await page.$eval('#config', e => e.textContent);
    report.cspViolations = await page.evaluate(() => window.__csp || []);
    if (report.cspViolations.length) { report.ok = false; report.failures.push('CSP violations'); }
    if (a.screenshot) { await page.screenshot({ path: a.screenshot, fullPage: true }); report.screenshot = a.screenshot; }
  } catch (e) {
    report.ok = false;
    report.failures.push('error: ' + (e && e.message || e));
    console.log(JSON.stringify(report, null, 2));
    process.exitCode = 2;
    return;
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(report, null, 2));
  process.exitCode = report.ok ? 0 : 1;
}

main();
