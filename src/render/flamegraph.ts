// A self-contained interactive SVG flame graph: static rectangles (readable without JS) plus an inline
// script for click-to-zoom, search with highlight and matched percentage, and a details line on hover.
// Root at the bottom, children sorted by name (so identical inputs give identical output).
// Colours by frame kind, from the flamegraph.pl suffixes: user (reds), kernel `_[k]` (orange),
// JIT `_[j]` (green), inlined `_[i]` (aqua), unresolved (grey).

import { mergeStacks, splitKind, type FrameKindTag, type StackCount } from './folded.js';

export interface FlameGraphOptions {
  title?: string;
  subtitle?: string;
  /** Image width in pixels. Default 1200. */
  width?: number;
  /** Height of one frame. Default 16. */
  frameHeight?: number;
  fontSize?: number;
  /** Frames narrower than this many pixels are omitted (with their children). Default 0.1. */
  minWidth?: number;
  /** What a count is, for tooltips. Default `samples`. */
  countName?: string;
  /** Name of the synthetic root frame. Default `all`. */
  rootName?: string;
}

interface Node {
  name: string;
  total: number;
  children: Map<string, Node>;
}

const FONT = 'Verdana, Arial, sans-serif';

export function renderFlameGraph(input: Iterable<StackCount>, opts: FlameGraphOptions = {}): string {
  const width = opts.width ?? 1200;
  const fh = opts.frameHeight ?? 16;
  const fontSize = opts.fontSize ?? 12;
  const minWidth = opts.minWidth ?? 0.1;
  const countName = opts.countName ?? 'samples';
  const title = opts.title ?? 'Flame Graph';
  const xpad = 10;
  const top = opts.subtitle ? 66 : 50;
  const bottom = 34;

  const root: Node = { name: opts.rootName ?? 'all', total: 0, children: new Map() };
  for (const s of mergeStacks(input)) {
    root.total += s.count;
    let n = root;
    for (const f of s.stack) {
      let c = n.children.get(f);
      if (!c) {
        c = { name: f, total: 0, children: new Map() };
        n.children.set(f, c);
      }
      c.total += s.count;
      n = c;
    }
  }
  const total = root.total;
  const scale = total > 0 ? (width - 2 * xpad) / total : 0;

  // Lay out: (node, depth, x in samples).
  interface Placed { node: Node; depth: number; x: number }
  const placed: Placed[] = [];
  let maxDepth = 0;
  const stack: Placed[] = [{ node: root, depth: 0, x: 0 }];
  while (stack.length) {
    const p = stack.pop()!;
    if (p.node.total * scale < minWidth && p.depth > 0) continue;
    placed.push(p);
    if (p.depth > maxDepth) maxDepth = p.depth;
    const kids = [...p.node.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    let x = p.x;
    const next: Placed[] = [];
    for (const k of kids) {
      next.push({ node: k, depth: p.depth + 1, x });
      x += k.total;
    }
    for (let i = next.length - 1; i >= 0; i--) stack.push(next[i]!);
  }

  const height = top + (maxDepth + 1) * fh + bottom;
  const charW = fontSize * 0.59;
  const out: string[] = [];
  out.push('<?xml version="1.0" standalone="no"?>');
  out.push(
    `<svg version="1.1" id="fg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" ` +
      `data-xpad="${xpad}" data-total="${total}" data-font="${fontSize}" data-count-name="${esc(countName)}">`,
  );
  out.push(`<style type="text/css"><![CDATA[${CSS}]]></style>`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#f8f8f4"/>`);
  out.push(`<text id="title" x="${width / 2}" y="24" text-anchor="middle" font-size="17">${esc(title)}</text>`);
  if (opts.subtitle) out.push(`<text id="subtitle" x="${width / 2}" y="44" text-anchor="middle" fill="#555">${esc(opts.subtitle)}</text>`);
  out.push(`<text id="unzoom" class="btn hide" x="${xpad}" y="24">Reset Zoom</text>`);
  out.push(`<text id="search" class="btn" x="${width - xpad}" y="24" text-anchor="end">Search</text>`);
  // A search box for browsers (viewers without foreignObject support show just the Search button).
  out.push(
    `<foreignObject x="${width - xpad - 110 - 170}" y="8" width="170" height="24">` +
      `<input xmlns="http://www.w3.org/1999/xhtml" id="q" type="search" placeholder="search (regexp), Enter" ` +
      `style="width:160px;font:12px ${FONT};padding:1px 4px"/></foreignObject>`,
  );
  out.push(`<text id="matched" x="${width - xpad}" y="${height - 12}" text-anchor="end"> </text>`);
  out.push(`<text id="details" x="${xpad}" y="${height - 12}"> </text>`);
  // Legend.
  const legend: [FrameKindTag, string][] = [['user', 'user'], ['kernel', 'kernel'], ['jit', 'JIT'], ['unknown', 'unresolved']];
  let lx = xpad;
  const ly = top - 14;
  for (const [k, label] of legend) {
    out.push(`<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${kindColor(k, 'legend')}"/><text x="${lx + 13}" y="${ly}" font-size="10">${label}</text>`);
    lx += 16 + label.length * 6.5 + 12;
  }
  out.push('<g id="frames">');
  for (const p of placed) {
    const isRoot = p.depth === 0;
    const { name, kind } = isRoot ? { name: p.node.name, kind: 'unknown' as FrameKindTag } : splitKind(p.node.name);
    const x = xpad + p.x * scale;
    const w = p.node.total * scale;
    const y = top + (maxDepth - p.depth) * fh;
    const pct = total > 0 ? (100 * p.node.total) / total : 0;
    const info = `${name} (${fmtCount(p.node.total)} ${countName}, ${pct.toFixed(2)}%)`;
    const fill = isRoot ? 'rgb(200,200,210)' : kindColor(kind, name);
    const maxChars = Math.floor((w - 6) / charW);
    const label = maxChars < 3 ? '' : name.length <= maxChars ? name : name.slice(0, maxChars - 2) + '..';
    out.push(
      `<g class="f" data-d="${p.depth}" data-s="${p.x}" data-c="${p.node.total}" data-k="${kind}" data-n="${esc(name)}">` +
        `<title>${esc(info)}</title>` +
        `<rect x="${r2(x)}" y="${y}" width="${r2(w)}" height="${fh - 1}" fill="${fill}" rx="2" ry="2"/>` +
        `<text x="${r2(x + 3)}" y="${y + fh - 4.5}">${esc(label)}</text></g>`,
    );
  }
  out.push('</g>');
  out.push(`<script type="text/ecmascript"><![CDATA[${SCRIPT}]]></script>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function r2(n: number): string {
  return String(Math.round(n * 100) / 100);
}

function fmtCount(n: number): string {
  if (!Number.isInteger(n)) return n.toFixed(2);
  // Thousands separators (toLocaleString is slow for tens of thousands of frames).
  const s = String(Math.abs(n));
  let out = '';
  for (let i = s.length; i > 0; i -= 3) out = s.slice(Math.max(0, i - 3), i) + (out ? ',' + out : '');
  return (n < 0 ? '-' : '') + out;
}

/** XML text/attribute escaping; characters XML 1.0 forbids are dropped. */
export function esc(s: string): string {
  if (!/[&<>"'\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(s)) return s;
  return s
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
    .replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
}

/** Deterministic hash of a name in [0, 1). */
function hash(name: string, seed = 2166136261): number {
  let h = seed;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return ((h >>> 0) % 10000) / 10000;
}

function kindColor(kind: FrameKindTag, name: string): string {
  const v = name === 'legend' ? 0.5 : hash(name);
  const w = name === 'legend' ? 0.5 : hash(name, 0x9747b28c);
  switch (kind) {
    case 'kernel':
      return `rgb(${Math.round(235 + 20 * v)},${Math.round(150 + 50 * w)},${Math.round(10 + 30 * v)})`;
    case 'jit':
      return `rgb(${Math.round(60 + 60 * v)},${Math.round(180 + 50 * w)},${Math.round(60 + 40 * v)})`;
    case 'inline':
      return `rgb(${Math.round(60 + 60 * v)},${Math.round(190 + 40 * w)},${Math.round(190 + 40 * w)})`;
    case 'unknown':
      return `rgb(${Math.round(170 + 20 * v)},${Math.round(170 + 20 * v)},${Math.round(170 + 20 * v)})`;
    default:
      return `rgb(${Math.round(205 + 50 * v)},${Math.round(60 + 70 * w)},${Math.round(50 + 30 * v)})`;
  }
}

const CSS = `
text { font-family: ${FONT}; font-size: 12px; fill: #000; }
#title { font-size: 17px; }
.f text { pointer-events: none; }
.f:hover rect { stroke: #333; stroke-width: 0.5; cursor: pointer; }
.btn { cursor: pointer; fill: #335; text-decoration: underline; }
.btn:hover { fill: #a00; }
.hide { display: none; }
.faded rect { opacity: 0.5; }
.match rect { fill: rgb(230,0,230) !important; }
`;

// The browser-side code (plain ES5; no "]]>" inside).
const SCRIPT = `
(function () {
  var svg = document.getElementById('fg');
  var xpad = +svg.getAttribute('data-xpad');
  var total = +svg.getAttribute('data-total');
  var font = +svg.getAttribute('data-font');
  var countName = svg.getAttribute('data-count-name');
  var W = +svg.getAttribute('width') - 2 * xpad;
  var details = document.getElementById('details');
  var matchedText = document.getElementById('matched');
  var unzoomBtn = document.getElementById('unzoom');
  var searchBtn = document.getElementById('search');
  var gs = svg.querySelectorAll('g.f');
  var F = [];
  for (var i = 0; i < gs.length; i++) {
    var g = gs[i], r = g.querySelector('rect');
    var f = { g: g, r: r, t: g.querySelector('text'), d: +g.getAttribute('data-d'),
      s: +g.getAttribute('data-s'), c: +g.getAttribute('data-c'), n: g.getAttribute('data-n') };
    g.__f = f;
    F.push(f);
  }
  var zoomed = null, term = null;

  function fit(f, x, w) {
    var max = Math.floor((w - 6) / (font * 0.59));
    f.t.textContent = max < 3 ? '' : (f.n.length <= max ? f.n : f.n.slice(0, max - 2) + '..');
    f.t.setAttribute('x', (x + 3).toFixed(2));
  }
  function place(f, x, w) {
    f.r.setAttribute('x', x.toFixed(2));
    f.r.setAttribute('width', w.toFixed(2));
    fit(f, x, w);
  }
  function zoom(z) {
    zoomed = z;
    var k = W / z.c;
    for (var i = 0; i < F.length; i++) {
      var f = F[i];
      var inside = f.s >= z.s && f.s + f.c <= z.s + z.c;
      var ancestor = f.d < z.d && f.s <= z.s && f.s + f.c >= z.s + z.c;
      if (f.d >= z.d && inside) {
        f.g.classList.remove('hide', 'faded');
        place(f, xpad + (f.s - z.s) * k, f.c * k);
      } else if (ancestor) {
        f.g.classList.remove('hide');
        f.g.classList.add('faded');
        place(f, xpad, W);
      } else {
        f.g.classList.add('hide');
      }
    }
    unzoomBtn.classList.remove('hide');
  }
  function unzoom() {
    zoomed = null;
    for (var i = 0; i < F.length; i++) {
      var f = F[i];
      f.g.classList.remove('hide', 'faded');
      place(f, xpad + f.s * W / total, f.c * W / total);
    }
    unzoomBtn.classList.add('hide');
  }
  function search(t) {
    var re;
    try { re = new RegExp(t); } catch (e) { re = new RegExp(t.replace(/[.*+?^$()|[\\]\\\\{}]/g, '\\\\$&')); }
    term = t;
    var spans = [];
    for (var i = 0; i < F.length; i++) {
      var f = F[i];
      if (re.test(f.n)) { f.g.classList.add('match'); spans.push([f.s, f.s + f.c, f.c]); }
      else f.g.classList.remove('match');
    }
    // Count each sample once: drop matches nested inside an earlier (wider) match.
    spans.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });
    var sum = 0, end = -1;
    for (var j = 0; j < spans.length; j++) {
      if (spans[j][0] >= end) { sum += spans[j][2]; end = spans[j][1]; }
    }
    matchedText.textContent = 'Matched: ' + (total ? (100 * sum / total).toFixed(2) : '0.00') + '% (' + sum + ' ' + countName + ')';
    searchBtn.textContent = 'Reset Search';
  }
  function resetSearch() {
    term = null;
    if (qbox && qbox.value) qbox.value = '';
    for (var i = 0; i < F.length; i++) F[i].g.classList.remove('match');
    matchedText.textContent = ' ';
    searchBtn.textContent = 'Search';
  }
  var qbox = document.getElementById('q');
  if (qbox && qbox.addEventListener) {
    qbox.addEventListener('keydown', function (e) {
      if (e.key === 'Enter') { if (qbox.value) search(qbox.value); else resetSearch(); }
      else if (e.key === 'Escape') { qbox.value = ''; resetSearch(); }
    });
  }
  function askSearch() {
    if (qbox && qbox.value && term !== qbox.value) { search(qbox.value); return; }
    var t = window.prompt('Search for a frame (regular expression, e.g. ^ext4_ or tcp_):', term || '');
    if (t) search(t);
  }
  function frameOf(el) {
    while (el && el !== svg) { if (el.__f) return el.__f; el = el.parentNode; }
    return null;
  }
  svg.addEventListener('click', function (e) {
    var f = frameOf(e.target);
    if (f) { if (f.d === 0) unzoom(); else zoom(f); return; }
    if (e.target === unzoomBtn) unzoom();
    else if (e.target === searchBtn) { if (term !== null) resetSearch(); else askSearch(); }
  });
  svg.addEventListener('mouseover', function (e) {
    var f = frameOf(e.target);
    if (f) details.textContent = f.g.querySelector('title').textContent;
  });
  svg.addEventListener('mouseout', function (e) {
    if (frameOf(e.target)) details.textContent = ' ';
  });
  window.addEventListener('keydown', function (e) {
    if ((e.ctrlKey || e.metaKey) && (e.key === 'f' || e.key === 'F')) { e.preventDefault(); askSearch(); }
    else if (e.key === 'Escape') { resetSearch(); unzoom(); }
  });
  var q = /[?&]s=([^&]*)/.exec(window.location.search || '');
  if (q) search(decodeURIComponent(q[1]));
  window.flamegraph = { zoom: function (name) { for (var i = 0; i < F.length; i++) if (F[i].n === name) return zoom(F[i]); }, unzoom: unzoom, search: search, resetSearch: resetSearch };
})();
`;
