/* global document, EventSource, setTimeout */
/*
 * Security dashboard: listens to /admin/feed (Server-Sent Events), updates the figures, draws the
 * charts as inline SVG (no chart library) and prepends live events to the feed.
 */
(() => {
  'use strict';
  const SVG = 'http://www.w3.org/2000/svg';
  // Close to the rendered size (a half-width card), so 12px text stays readable.
  const W = 520;
  const H = 200;
  const PAD = { l: 30, r: 8, t: 12, b: 22 };

  function el(name, attrs, parent) {
    const n = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
    if (parent) parent.appendChild(n);
    return n;
  }

  function text(parent, x, y, s, anchor) {
    const t = el('text', { x, y, 'text-anchor': anchor || 'start' }, parent);
    t.textContent = s;
    return t;
  }

  /** Smallest max >= v whose quarter is a round number (1, 2, 5 x 10^k), so all 4 ticks are integers. */
  function niceMax(v) {
    const quarter = Math.max(1, v / 4);
    const p = 10 ** Math.floor(Math.log10(quarter));
    for (const m of [1, 2, 5, 10]) if (m * p >= quarter) return 4 * m * p;
    return 4 * quarter;
  }

  /** A fresh SVG with a y axis 0..max and the x axis labels. */
  function frame(container, max, xLabels) {
    const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, 'aria-hidden': 'true' });
    const ih = H - PAD.t - PAD.b;
    for (let i = 0; i <= 4; i++) {
      const y = PAD.t + (ih * i) / 4;
      el('line', { x1: PAD.l, x2: W - PAD.r, y1: y, y2: y, class: i === 4 ? 'axis' : 'grid-line' }, svg);
      text(svg, PAD.l - 6, y + 4, String(Math.round((max * (4 - i)) / 4)), 'end');
    }
    text(svg, PAD.l, H - 6, xLabels[0]);
    text(svg, W - PAD.r, H - 6, xLabels[1], 'end');
    container.replaceChildren(svg);
    return svg;
  }

  function stackedBars(id, series, xLabels) {
    const c = document.getElementById(id);
    if (!c) return;
    const n = series[0].values.length;
    const totals = Array.from({ length: n }, (_, i) => series.reduce((a, s) => a + s.values[i], 0));
    const max = niceMax(Math.max(...totals));
    const svg = frame(c, max, xLabels);
    const iw = W - PAD.l - PAD.r;
    const ih = H - PAD.t - PAD.b;
    const bw = iw / n;
    for (let i = 0; i < n; i++) {
      let y = PAD.t + ih;
      for (const s of series) {
        const h = (s.values[i] / max) * ih;
        if (h <= 0) continue;
        y -= h;
        const r = el('rect', { x: PAD.l + i * bw + 1, y, width: Math.max(1, bw - 2), height: h, class: s.cls }, svg);
        el('title', {}, r).textContent = `${s.name}: ${s.values[i]}`;
      }
    }
  }

  function lines(id, series, xLabels) {
    const c = document.getElementById(id);
    if (!c) return;
    const n = series[0].values.length;
    const max = niceMax(Math.max(...series.flatMap((s) => s.values)));
    const svg = frame(c, max, xLabels);
    const iw = W - PAD.l - PAD.r;
    const ih = H - PAD.t - PAD.b;
    for (const s of series) {
      const pts = s.values.map((v, i) => `${(PAD.l + (iw * i) / Math.max(1, n - 1)).toFixed(1)},${(PAD.t + ih - (v / max) * ih).toFixed(1)}`);
      el('polyline', { points: pts.join(' '), class: `line ${s.cls}` }, svg);
    }
  }

  const pct = (v) => (v === null ? '—' : `${Math.round(v * 1000) / 10}%`);

  function setKpi(name, value) {
    const n = document.querySelector(`[data-kpi="${name}"]`);
    if (n) n.textContent = value;
  }

  /** Replace a table's rows with cells made by `cells(row)` (text only: no HTML from the feed). */
  function fillTable(id, rows, cells) {
    const body = document.querySelector(`#${id} tbody`);
    if (!body) return;
    body.replaceChildren(...rows.map((r) => {
      const tr = document.createElement('tr');
      for (const [value, cls, code] of cells(r)) {
        const td = document.createElement('td');
        if (cls) td.className = cls;
        const holder = code ? document.createElement('code') : td;
        holder.textContent = String(value);
        if (code) td.appendChild(holder);
        tr.appendChild(td);
      }
      return tr;
    }));
  }

  function update(s) {
    setKpi('activeSessions', String(s.activeSessions));
    setKpi('boundSessions', String(s.boundSessions));
    setKpi('unboundSessions', String(s.unboundSessions));
    setKpi('mfaRate', pct(s.mfa.rate));
    setKpi('mfaCounts', `${s.mfa.enabled} of ${s.mfa.accounts}`);
    setKpi('signinSuccessRate', pct(s.signins.successRate));
    setKpi('signinFailed', String(s.signins.failed));
    setKpi('signinThrottled', String(s.signins.throttled));
    setKpi('invalidTokens', String(s.invalidTokens));
    setKpi('bindingViolations', String(s.bindingViolations));
    setKpi('expirationRate', pct(s.expirationRate));
    setKpi('rotationsPerSession', s.rotationsPerSession === null ? '—' : s.rotationsPerSession.toFixed(2));
    setKpi('cookieTotal', String(s.cookie.total));
    setKpi('lastCookie', s.cookie.last || '—');
    fillTable('top-ips', s.topIps, (r) => [[r.ip, '', true], [r.failed, 'right'], [r.throttled, 'right']]);
    fillTable('top-accounts', s.topAccounts, (r) => [[r.email], [r.failed, 'right'], [r.throttled, 'right']]);
    fillTable('anomalies', s.anomalies, (r) => [[r.signal], [r.action], [r.count, 'right']]);
    fillTable('csrf-reasons', s.csrf, (r) => [[r.reason], [r.count, 'right']]);
    setKpi('csrfBlocked', String(s.csrf.reduce((n, c) => n + c.count, 0)));
    for (const chk of s.cookie.checks) {
      const row = document.querySelector(`#cookie-table tr[data-check="${chk.id}"]`);
      if (!row) continue;
      row.querySelector('[data-pass]').textContent = String(chk.pass);
      row.querySelector('[data-fail]').textContent = String(chk.fail);
      row.querySelector('.dot').setAttribute('class', `dot ${chk.fail > 0 ? 'bad' : chk.pass > 0 ? 'ok' : ''}`);
    }
    const d = s.series.data;
    const x = [`-${s.series.minutes} min`, 'now'];
    stackedBars('chart-signins', [
      { name: 'success', values: d.signinOk, cls: 'ok' },
      { name: 'failed', values: d.signinFail, cls: 'bad' },
      { name: 'throttled', values: d.throttled, cls: 'c2' },
    ], x);
    lines('chart-lifecycle', [
      { values: d.created, cls: 'c1' },
      { values: d.rotated, cls: 'c2' },
      { values: d.ended, cls: 'c3' },
      { values: d.blocked, cls: 'bad' },
    ], x);
  }

  function addEvent(e) {
    const feed = document.getElementById('feed');
    if (!feed) return;
    const li = document.createElement('li');
    // The server marks the events an operator should look at (SUSPICIOUS in app/lib/dashboard.ts).
    li.className = `${e.suspicious ? 'warn ' : ''}new`;
    const type = document.createElement('span');
    type.className = 'ev-type';
    type.textContent = e.type;
    li.appendChild(type);
    for (const extra of [e.signal ? `${e.signal} → ${e.action || ''}` : '', e.reason || '']) {
      if (!extra) continue;
      const r = document.createElement('span');
      r.className = 'ev-reason';
      r.textContent = extra;
      li.appendChild(r);
    }
    const meta = document.createElement('span');
    meta.className = 'muted small';
    meta.textContent = `${e.ip ? `${e.ip} · ` : ''}${e.sid ? `sid ${e.sid.slice(0, 8)} · ` : ''}just now`;
    li.appendChild(meta);
    feed.prepend(li);
    while (feed.children.length > 80) feed.lastElementChild.remove();
  }

  const status = document.getElementById('feed-status');
  function connect() {
    const es = new EventSource('/admin/feed');
    es.addEventListener('open', () => {
      if (status) {
        status.textContent = 'live';
        status.className = 'badge live';
      }
    });
    es.addEventListener('stats', (m) => update(JSON.parse(m.data)));
    es.addEventListener('event', (m) => addEvent(JSON.parse(m.data)));
    es.addEventListener('error', () => {
      if (status) {
        status.textContent = 'reconnecting…';
        status.className = 'badge';
      }
      if (es.readyState === EventSource.CLOSED) setTimeout(connect, 5000);
    });
  }
  connect();
})();
