// The live page of `bpfkit serve --web`: polls /api/state every 2 s and draws the flow graph,
// the bottleneck with its evidence, time-share bars and top syscalls. No libraries, no CDN.
'use strict';

const STATES = [
  ['cpu', 'on CPU', '#4285f4'], ['runqueue', 'run queue', '#fbbc04'], ['input', 'input wait', '#34a853'],
  ['sleep', 'timed sleep', '#a0c4a8'], ['select_sleep', 'select/poll sleep', '#c8dccb'], ['read', 'read', '#9334e6'],
  ['write', 'write', '#e8710a'], ['sync', 'disk sync', '#795548'], ['lock', 'locks', '#d93025'], ['other', 'other', '#9aa0a6'],
];
const SVGNS = 'http://www.w3.org/2000/svg';
const $ = (id) => document.getElementById(id);

function rate(b) {
  if (b >= 1e6) return (b / 1e6).toFixed(2) + ' MB/s';
  if (b >= 1e3) return (b / 1e3).toFixed(1) + ' KB/s';
  return b.toFixed(0) + ' B/s';
}

function el(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Columns by longest path from the sources, along each pair's heavier direction (requests and
 * replies make cycles; the data flows the way most bytes go). */
function layout(nodes, all) {
  const rate = new Map(all.map((e) => [e.from + '\n' + e.to, e.bytesPerS]));
  const edges = all.filter((e) => e.bytesPerS >= (rate.get(e.to + '\n' + e.from) || 0) && !(e.bytesPerS === rate.get(e.to + '\n' + e.from) && e.from > e.to));
  const rank = new Map(nodes.map((n) => [n, 0]));
  for (let i = 0; i < nodes.length; i++) {
    let changed = false;
    for (const e of edges) {
      if (e.from === e.to) continue;
      const r = rank.get(e.from) + 1;
      if (r > rank.get(e.to) && r < nodes.length) { rank.set(e.to, r); changed = true; }
    }
    if (!changed) break;
  }
  const cols = new Map();
  for (const n of nodes) {
    const r = rank.get(n);
    if (!cols.has(r)) cols.set(r, []);
    cols.get(r).push(n);
  }
  const pos = new Map();
  const ncols = Math.max(1, cols.size);
  const svg = $('graph');
  const W = svg.clientWidth || 800;
  [...cols.keys()].sort((a, b) => a - b).forEach((r, ci) => {
    const col = cols.get(r);
    col.forEach((n, i) => pos.set(n, { x: 80 + ci * ((W - 160) / Math.max(1, ncols - 1 || 1)), y: 50 + i * 80 + (ci % 2) * 20 }));
  });
  return pos;
}

function drawGraph(state) {
  const svg = $('graph');
  svg.replaceChildren();
  const edges = state.edges.filter((e) => e.bytesPerS >= 1);
  const names = new Set(edges.flatMap((e) => [e.from, e.to]));
  for (const s of state.services) if (s.cpuCores >= 0.05) names.add(s.name);
  const nodes = [...names];
  if (nodes.length === 0) {
    svg.appendChild(el('text', { x: 20, y: 40, class: 'muted' }, 'no TCP flows between services yet'));
    return;
  }
  const pos = layout(nodes, edges);
  const maxY = Math.max(...[...pos.values()].map((p) => p.y));
  svg.style.height = Math.max(240, maxY + 60) + 'px';
  const known = new Map(state.services.map((s) => [s.name, s]));
  const defs = el('defs');
  const marker = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
  marker.appendChild(el('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#7b8ca3' }));
  defs.appendChild(marker);
  svg.appendChild(defs);
  const maxRate = Math.max(1, ...edges.map((e) => e.bytesPerS));
  for (const e of edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b || e.from === e.to) continue;
    // Both directions of a pair: bend each to its own side.
    const bend = edges.some((x) => x.from === e.to && x.to === e.from) ? 30 : 0;
    const mx = (a.x + b.x) / 2;
    const my = (a.y + b.y) / 2 - bend * Math.sign(b.x - a.x || 1);
    const g = el('g', { class: 'edge', 'data-from': e.from, 'data-to': e.to });
    const dx = b.x - a.x;
    const x1 = a.x + Math.sign(dx) * 60;
    const x2 = b.x - Math.sign(dx) * 60;
    g.appendChild(el('path', { d: `M ${dx ? x1 : a.x} ${a.y + (dx ? 0 : 20)} Q ${mx} ${my} ${dx ? x2 : b.x} ${b.y - (dx ? 0 : 20)}`, 'stroke-width': 1 + 5 * Math.sqrt(e.bytesPerS / maxRate), 'marker-end': 'url(#arrow)' }));
    g.appendChild(el('text', { x: mx, y: my - 4 }, rate(e.bytesPerS)));
    svg.appendChild(g);
  }
  const hot = state.bottleneck && state.bottleneck.service;
  for (const n of nodes) {
    const p = pos.get(n);
    const s = known.get(n);
    const cls = ['node', s ? 'service' : 'remote', n === hot ? 'bottleneck' : ''].join(' ').trim();
    const g = el('g', { class: cls, 'data-service': n, 'data-id': s ? s.id : '', transform: `translate(${p.x},${p.y})` });
    g.appendChild(el('rect', { x: -60, y: -20, width: 120, height: 40 }));
    g.appendChild(el('text', { y: -3 }, n.length > 18 ? n.slice(0, 17) + '…' : n));
    g.appendChild(el('text', { y: 12, class: 'sub' }, s ? `${s.cpuCores.toFixed(2)} cores, ${s.processes} proc` : 'remote'));
    if (n === hot) g.appendChild(el('title', {}, `bottleneck: ${state.bottleneck.kind}`));
    svg.appendChild(g);
  }
}

function drawVerdict(state) {
  const v = state.bottleneck;
  const box = $('verdict');
  box.replaceChildren();
  if (!v) {
    const p = document.createElement('p');
    p.className = 'muted';
    p.textContent = state.conclusion;
    box.appendChild(p);
    return;
  }
  const h = document.createElement('p');
  h.innerHTML = '<span class="kind"></span> <b class="svc"></b> <span class="conf"></span>';
  h.querySelector('.kind').textContent = v.kind;
  h.querySelector('.svc').textContent = v.service;
  h.querySelector('.conf').textContent = `confidence ${(v.confidence * 100).toFixed(0)}%`;
  box.appendChild(h);
  const sum = document.createElement('p');
  sum.textContent = v.summary;
  box.appendChild(sum);
  const ul = document.createElement('ul');
  ul.id = 'evidence';
  for (const e of v.evidence) { const li = document.createElement('li'); li.textContent = e; ul.appendChild(li); }
  box.appendChild(ul);
  if (v.next.length) {
    const n = document.createElement('p');
    n.className = 'muted';
    n.textContent = 'next: ' + v.next.join('  |  ');
    box.appendChild(n);
  }
}

function drawShares(state) {
  const legend = $('legend');
  if (!legend.childElementCount) {
    for (const [, label, color] of STATES) {
      const s = document.createElement('span');
      s.innerHTML = `<i style="background:${color}"></i>`;
      s.append(label);
      legend.appendChild(s);
    }
  }
  const box = $('shares');
  box.replaceChildren();
  const hot = state.bottleneck && state.bottleneck.service;
  for (const s of state.services.slice(0, 15)) {
    const row = document.createElement('div');
    row.className = 'share-row' + (s.name === hot ? ' bottleneck' : '');
    row.dataset.service = s.name;
    row.dataset.id = String(s.id);
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = s.name;
    const bar = document.createElement('div');
    bar.className = 'bar';
    for (const [key, label, color] of STATES) {
      const v = s.shares[key] || 0;
      if (v < 0.005) continue;
      const seg = document.createElement('span');
      seg.style.width = (v * 100).toFixed(1) + '%';
      seg.style.background = color;
      seg.title = `${label} ${(v * 100).toFixed(0)}%`;
      bar.appendChild(seg);
    }
    const cores = document.createElement('span');
    cores.textContent = s.cpuCores.toFixed(2);
    cores.title = 'cores';
    row.append(name, bar, cores);
    box.appendChild(row);
  }
}

function drawSyscalls(state) {
  const body = $('syscalls').querySelector('tbody');
  body.replaceChildren();
  for (const s of state.syscalls.slice(0, 12)) {
    const tr = document.createElement('tr');
    for (const v of [s.syscall, s.count, s.seconds.toFixed(3), s.p99Ms === undefined ? '' : s.p99Ms.toFixed(3)]) {
      const td = document.createElement('td');
      td.textContent = v;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}

function fillServices(state) {
  const sel = $('flame-service');
  const want = state.services.map((s) => s.name);
  const have = [...sel.options].map((o) => o.value);
  if (want.join('\n') === have.join('\n')) return;
  const keep = sel.value;
  sel.replaceChildren(...want.map((n) => { const o = document.createElement('option'); o.value = n; o.textContent = n; return o; }));
  if (want.includes(keep)) sel.value = keep;
  else if (state.bottleneck && want.includes(state.bottleneck.service)) sel.value = state.bottleneck.service;
}

async function poll() {
  try {
    const r = await fetch('api/state', { cache: 'no-store' });
    if (!r.ok) throw new Error(await r.text());
    const state = await r.json();
    drawGraph(state);
    drawVerdict(state);
    drawShares(state);
    drawSyscalls(state);
    fillServices(state);
    document.body.dataset.windows = String(state.windows);
    $('status').textContent = `updated ${new Date(state.time).toLocaleTimeString()}` + (state.windowS ? `, diagnose window ${state.windowS.toFixed(1)} s` : '');
  } catch (e) {
    $('status').textContent = 'cannot reach bpfkit serve: ' + e.message;
  }
}

$('flame-button').addEventListener('click', async () => {
  const svc = $('flame-service').value;
  if (!svc) return;
  const button = $('flame-button');
  button.disabled = true;
  $('flame-status').textContent = `recording ${svc} for 10 s...`;
  try {
    const r = await fetch(`api/flamegraph?service=${encodeURIComponent(svc)}&seconds=10`);
    const text = await r.text();
    if (!r.ok) throw new Error(text.trim());
    const url = URL.createObjectURL(new Blob([text], { type: 'image/svg+xml' }));
    const obj = document.createElement('object');
    obj.type = 'image/svg+xml';
    obj.data = url;
    $('flame').replaceChildren(obj);
    $('flame-status').textContent = `flame graph of ${svc}`;
    document.body.dataset.flame = 'done';
  } catch (e) {
    $('flame-status').textContent = 'failed: ' + e.message;
    document.body.dataset.flame = 'failed';
  } finally {
    button.disabled = false;
  }
});

poll();
setInterval(poll, 2000);
