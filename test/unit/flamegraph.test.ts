// Flame graph SVG (well-formed XML, content, and its inline script run against a small DOM built from
// the parsed SVG), folded stacks, speedscope JSON.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runInNewContext } from 'node:vm';
import { renderFlameGraph } from '../../src/render/flamegraph.js';
import { mergeStacks, parseFolded, renderFolded, splitKind, totalCount, type StackCount } from '../../src/render/folded.js';
import { SPEEDSCOPE_SCHEMA, renderSpeedscope, toSpeedscope } from '../../src/render/speedscope.js';

// ---- a strict little XML parser (well-formedness + a tree) ----

interface XNode {
  name: string;
  attrs: Map<string, string>;
  children: (XNode | XText)[];
  parent?: XNode;
}
interface XText {
  text: string;
  parent?: XNode;
}

function decodeEntities(s: string, where: number): string {
  return s.replace(/&([^;]*);?/g, (m, body: string) => {
    if (!m.endsWith(';')) throw new Error(`bare & at ${where}`);
    if (body === 'amp') return '&';
    if (body === 'lt') return '<';
    if (body === 'gt') return '>';
    if (body === 'quot') return '"';
    if (body === 'apos') return "'";
    if (/^#\d+$/.test(body)) return String.fromCodePoint(Number(body.slice(1)));
    if (/^#x[0-9a-fA-F]+$/.test(body)) return String.fromCodePoint(parseInt(body.slice(2), 16));
    throw new Error(`unknown entity &${body}; at ${where}`);
  });
}

function parseXml(src: string): XNode {
  let i = 0;
  const stack: XNode[] = [];
  let root: XNode | undefined;
  const doc: XNode = { name: '#document', attrs: new Map(), children: [] };
  const cur = () => stack[stack.length - 1] ?? doc;
  while (i < src.length) {
    if (src.startsWith('<?', i)) {
      const e = src.indexOf('?>', i);
      if (e < 0) throw new Error('unterminated PI');
      i = e + 2;
    } else if (src.startsWith('<!--', i)) {
      const e = src.indexOf('-->', i);
      if (e < 0) throw new Error('unterminated comment');
      i = e + 3;
    } else if (src.startsWith('<![CDATA[', i)) {
      const e = src.indexOf(']]>', i);
      if (e < 0) throw new Error('unterminated CDATA');
      if (stack.length === 0) throw new Error('CDATA outside root');
      cur().children.push({ text: src.slice(i + 9, e), parent: cur() });
      i = e + 3;
    } else if (src.startsWith('</', i)) {
      const m = /^<\/([A-Za-z_][\w:.-]*)\s*>/.exec(src.slice(i, i + 200));
      if (!m) throw new Error(`bad end tag at ${i}`);
      const open = stack.pop();
      if (!open || open.name !== m[1]) throw new Error(`mismatched </${m[1]}> at ${i} (open: ${open?.name})`);
      i += m[0].length;
    } else if (src[i] === '<') {
      const m = /^<([A-Za-z_][\w:.-]*)/.exec(src.slice(i, i + 200));
      if (!m) throw new Error(`bad tag at ${i}`);
      const node: XNode = { name: m[1]!, attrs: new Map(), children: [], parent: stack.length ? cur() : undefined };
      i += m[0].length;
      for (;;) {
        const ws = /^\s*/.exec(src.slice(i, i + 100))![0];
        i += ws.length;
        if (src.startsWith('/>', i) || src[i] === '>') break;
        if (!ws) throw new Error(`missing space before attribute at ${i}`);
        const a = /^([A-Za-z_][\w:.-]*)\s*=\s*("([^"<]*)"|'([^'<]*)')/.exec(src.slice(i, i + 100000));
        if (!a) throw new Error(`bad attribute at ${i}: ${src.slice(i, i + 40)}`);
        if (node.attrs.has(a[1]!)) throw new Error(`duplicate attribute ${a[1]} at ${i}`);
        node.attrs.set(a[1]!, decodeEntities(a[3] ?? a[4] ?? '', i));
        i += a[0].length;
      }
      if (stack.length === 0) {
        if (root) throw new Error('two root elements');
        root = node;
      }
      cur().children.push(node);
      if (src.startsWith('/>', i)) i += 2;
      else {
        i += 1;
        stack.push(node);
      }
    } else {
      const e = src.indexOf('<', i);
      const raw = src.slice(i, e < 0 ? src.length : e);
      if (stack.length === 0) {
        if (raw.trim()) throw new Error(`text outside root at ${i}`);
      } else cur().children.push({ text: decodeEntities(raw, i), parent: cur() });
      i = e < 0 ? src.length : e;
    }
  }
  if (stack.length) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  if (!root) throw new Error('no root element');
  return root;
}

function isNode(n: XNode | XText): n is XNode {
  return (n as XNode).name !== undefined;
}
function* descendants(n: XNode): Generator<XNode> {
  for (const c of n.children) {
    if (isNode(c)) {
      yield c;
      yield* descendants(c);
    }
  }
}
function textOf(n: XNode): string {
  return n.children.map((c) => (isNode(c) ? textOf(c) : c.text)).join('');
}

// ---- a minimal DOM over the parsed tree, enough for the flame graph's script ----

class El {
  static wrap = new WeakMap<XNode, El>();
  listeners: Record<string, ((e: unknown) => void)[]> = {};
  [key: string]: unknown;
  constructor(readonly node: XNode) {}
  static of(n: XNode): El {
    let e = El.wrap.get(n);
    if (!e) {
      e = new El(n);
      El.wrap.set(n, e);
    }
    return e;
  }
  get parentNode(): El | null {
    return this.node.parent ? El.of(this.node.parent) : null;
  }
  getAttribute(k: string): string | null {
    return this.node.attrs.get(k) ?? null;
  }
  setAttribute(k: string, v: string): void {
    this.node.attrs.set(k, String(v));
  }
  get textContent(): string {
    return textOf(this.node);
  }
  set textContent(v: string) {
    this.node.children = [{ text: String(v), parent: this.node }];
  }
  get classList() {
    const node = this.node;
    const get = () => (node.attrs.get('class') ?? '').split(/\s+/).filter(Boolean);
    return {
      add: (...c: string[]) => node.attrs.set('class', [...new Set([...get(), ...c])].join(' ')),
      remove: (...c: string[]) => node.attrs.set('class', get().filter((x) => !c.includes(x)).join(' ')),
      contains: (c: string) => get().includes(c),
    };
  }
  querySelector(sel: string): El | null {
    for (const d of descendants(this.node)) if (d.name === sel) return El.of(d);
    return null;
  }
  querySelectorAll(sel: string): El[] {
    const [tag, cls] = sel.split('.');
    const out: El[] = [];
    for (const d of descendants(this.node)) {
      if (d.name === tag && (!cls || (d.attrs.get('class') ?? '').split(' ').includes(cls))) out.push(El.of(d));
    }
    return out;
  }
  addEventListener(type: string, fn: (e: unknown) => void): void {
    (this.listeners[type] ??= []).push(fn);
  }
  dispatch(type: string, target: El): void {
    for (const fn of this.listeners[type] ?? []) fn({ target, preventDefault() {} });
  }
}

function runScript(svgText: string, promptAnswer = '') {
  const root = parseXml(svgText);
  const script = [...descendants(root)].find((n) => n.name === 'script')!;
  const doc = {
    getElementById(id: string) {
      if (root.attrs.get('id') === id) return El.of(root);
      for (const d of descendants(root)) if (d.attrs.get('id') === id) return El.of(d);
      return null;
    },
  };
  const win: Record<string, unknown> = {
    location: { search: '' },
    prompt: () => promptAnswer,
    addEventListener() {},
  };
  runInNewContext(textOf(script), { document: doc, window: win });
  const frames = [...descendants(root)].filter((n) => n.name === 'g' && (n.attrs.get('class') ?? '').split(' ').includes('f'));
  const frame = (name: string) => {
    const g = frames.find((f) => f.attrs.get('data-n') === name);
    assert.ok(g, `frame ${name}`);
    const rect = [...descendants(g)].find((n) => n.name === 'rect')!;
    return { g, el: El.of(g), x: Number(rect.attrs.get('x')), w: Number(rect.attrs.get('width')), cls: g.attrs.get('class') ?? '' };
  };
  return { root, svg: El.of(root), fg: win.flamegraph as { search(t: string): void; unzoom(): void }, frame, byId: doc.getElementById };
}

// ---- fixtures ----

const STACKS: StackCount[] = [
  { stack: ['app', 'main', 'compute', 'inner'], count: 60 },
  { stack: ['app', 'main', 'io', 'ksys_read_[k]', 'vfs_read_[k]'], count: 30 },
  { stack: ['app', 'main', 'compute'], count: 10 },
  { stack: ['app', 'main', 'compute', 'inner'], count: 5 }, // merged with the first
  { stack: ['node', 'LazyCompile:*run /a.js:1_[j]', 'operator<<(std::ostream&, "x")'], count: 20 },
  { stack: ['node', 'libfoo.so+0x1a2b'], count: 4 },
  { stack: ['semi;colon', '[unknown]'], count: 1 },
];
const TOTAL = 130;

describe('folded stacks', () => {
  test('merge, sanitize, sort, round trip', () => {
    const text = renderFolded(STACKS);
    const lines = text.trimEnd().split('\n');
    assert.equal(lines.length, 6);
    assert.ok(lines.includes('app;main;compute;inner 65'));
    assert.ok(lines.includes('semi:colon;[unknown] 1'));
    assert.deepEqual([...lines].sort(), lines);
    const back = parseFolded(text);
    assert.equal(totalCount(back), TOTAL);
    assert.deepEqual(mergeStacks(back).map((s) => s.stack.join(';')).sort(), lines.map((l) => l.replace(/ \d+$/, '')).sort());
    assert.equal(renderFolded([]), '');
  });

  test('kind suffixes', () => {
    assert.deepEqual(splitKind('vfs_read_[k]'), { name: 'vfs_read', kind: 'kernel' });
    assert.deepEqual(splitKind('x_[j]'), { name: 'x', kind: 'jit' });
    assert.deepEqual(splitKind('libfoo.so+0x1a2b'), { name: 'libfoo.so+0x1a2b', kind: 'unknown' });
    assert.deepEqual(splitKind('main'), { name: 'main', kind: 'user' });
  });
});

describe('flame graph SVG', () => {
  const svg = renderFlameGraph(STACKS, { title: 'CPU <profile> & more', subtitle: 'pid 42' });

  test('is well-formed XML with an <svg> root', () => {
    const root = parseXml(svg);
    assert.equal(root.name, 'svg');
    assert.equal(root.attrs.get('xmlns'), 'http://www.w3.org/2000/svg');
    assert.throws(() => parseXml('<svg><g></svg>'), /mismatched/);
    assert.throws(() => parseXml('<svg>a & b</svg>'), /bare &/);
  });

  test('contains every frame, with escaping, counts, percentages and kinds', () => {
    const root = parseXml(svg);
    const gs = [...descendants(root)].filter((n) => n.name === 'g' && n.attrs.get('class') === 'f');
    const byName = new Map(gs.map((g) => [g.attrs.get('data-n')!, g]));
    for (const n of ['all', 'app', 'main', 'compute', 'inner', 'io', 'ksys_read', 'vfs_read', 'node', 'LazyCompile:*run /a.js:1',
      'operator<<(std::ostream&, "x")', 'libfoo.so+0x1a2b', 'semi:colon', '[unknown]']) {
      assert.ok(byName.has(n), `frame ${n}`);
    }
    assert.ok(svg.includes('operator&lt;&lt;(std::ostream&amp;, &quot;x&quot;)'));
    assert.equal(textOf([...descendants(root)].find((n) => n.attrs.get('id') === 'title')!), 'CPU <profile> & more');
    const inner = byName.get('inner')!;
    assert.equal(textOf([...descendants(inner)].find((n) => n.name === 'title')!), 'inner (65 samples, 50.00%)');
    assert.equal(byName.get('all')!.attrs.get('data-c'), String(TOTAL));
    assert.equal(byName.get('vfs_read')!.attrs.get('data-k'), 'kernel');
    assert.equal(byName.get('LazyCompile:*run /a.js:1')!.attrs.get('data-k'), 'jit');
    assert.equal(byName.get('libfoo.so+0x1a2b')!.attrs.get('data-k'), 'unknown');
    assert.equal(byName.get('compute')!.attrs.get('data-k'), 'user');
    // Root at the bottom: deeper frames are higher up.
    const y = (n: string) => Number([...descendants(byName.get(n)!)].find((c) => c.name === 'rect')!.attrs.get('y'));
    assert.ok(y('all') > y('app') && y('app') > y('main') && y('main') > y('compute'));
    // Width proportional to counts: inner is half the graph.
    const w = (n: string) => Number([...descendants(byName.get(n)!)].find((c) => c.name === 'rect')!.attrs.get('width'));
    assert.ok(Math.abs(w('inner') / w('all') - 65 / TOTAL) < 1e-3);
  });

  test('the inline script zooms, unzooms and searches', () => {
    const s = runScript(svg, '^(compute|inner)$');
    const W = 1200 - 20;
    // Click "compute": it fills the width, its ancestors are faded, unrelated frames are hidden.
    s.svg.dispatch('click', s.frame('compute').el.querySelector('rect')!);
    assert.equal(s.frame('compute').x, 10);
    assert.equal(s.frame('compute').w, W);
    assert.ok(Math.abs(s.frame('inner').w - (W * 65) / 75) < 0.01);
    assert.match(s.frame('main').cls, /faded/);
    assert.match(s.frame('io').cls, /hide/);
    assert.match(s.frame('node').cls, /hide/);
    assert.doesNotMatch(s.byId('unzoom')!.getAttribute('class')!, /hide/);
    // Reset.
    s.svg.dispatch('click', s.byId('unzoom')!);
    assert.doesNotMatch(s.frame('io').cls, /hide/);
    assert.ok(Math.abs(s.frame('compute').w - (W * 75) / TOTAL) < 0.01);
    // Search through the button (prompt answers the regexp): nested matches count once.
    s.svg.dispatch('click', s.byId('search')!);
    assert.match(s.frame('compute').cls, /match/);
    assert.match(s.frame('inner').cls, /match/);
    assert.doesNotMatch(s.frame('main').cls, /match/);
    assert.equal(s.byId('matched')!.textContent, `Matched: ${((100 * 75) / TOTAL).toFixed(2)}% (75 samples)`);
    s.fg.search('read');
    assert.equal(s.byId('matched')!.textContent, `Matched: ${((100 * 30) / TOTAL).toFixed(2)}% (30 samples)`);
    // The search box: Enter searches its value, Escape clears.
    const q = s.byId('q')!;
    q.value = 'inner';
    (q.listeners.keydown ?? []).forEach((fn) => fn({ key: 'Enter', target: q, preventDefault() {} }));
    assert.equal(s.byId('matched')!.textContent, `Matched: ${((100 * 65) / TOTAL).toFixed(2)}% (65 samples)`);
    (q.listeners.keydown ?? []).forEach((fn) => fn({ key: 'Escape', target: q, preventDefault() {} }));
    assert.equal(s.byId('matched')!.textContent, ' ');
    assert.equal(s.byId('search')!.textContent, 'Search');
    // Hover shows the details line.
    s.svg.dispatch('mouseover', s.frame('io').el.querySelector('rect')!);
    assert.equal(s.byId('details')!.textContent, `io (30 samples, ${((100 * 30) / TOTAL).toFixed(2)}%)`);
  });

  test('empty input still renders a valid document; tiny frames are pruned', () => {
    parseXml(renderFlameGraph([]));
    const many: StackCount[] = [{ stack: ['big'], count: 1_000_000 }, { stack: ['tiny'], count: 1 }];
    const out = renderFlameGraph(many);
    parseXml(out);
    assert.ok(out.includes('data-n="big"'));
    assert.ok(!out.includes('data-n="tiny"'));
  });
});

describe('speedscope', () => {
  test('sampled profile with shared frames; weights sum to the total', () => {
    const doc = toSpeedscope(STACKS, { name: 'test profile' });
    assert.equal(doc.$schema, SPEEDSCOPE_SCHEMA);
    assert.equal(doc.profiles.length, 1);
    const p = doc.profiles[0]!;
    assert.equal(p.type, 'sampled');
    assert.equal(p.unit, 'none');
    assert.equal(p.name, 'test profile');
    assert.equal(p.samples.length, p.weights.length);
    assert.equal(p.samples.length, 6); // merged
    assert.equal(p.weights.reduce((a, b) => a + b, 0), TOTAL);
    assert.equal(p.startValue, 0);
    assert.equal(p.endValue, TOTAL);
    const names = doc.shared.frames.map((f) => f.name);
    assert.equal(new Set(names).size, names.length, 'frames are shared, not repeated');
    for (const s of p.samples) for (const i of s) assert.ok(Number.isInteger(i) && i >= 0 && i < names.length);
    // Root first.
    const first = p.samples[0]!.map((i) => names[i]);
    assert.deepEqual(first, ['app', 'main', 'compute', 'inner']);
    assert.equal(p.weights[0], 65);
    const vfs = doc.shared.frames.find((f) => f.name === 'vfs_read')!;
    assert.equal(vfs.file, '[kernel]');
    const parsed = JSON.parse(renderSpeedscope(STACKS));
    assert.equal(parsed.profiles[0].weights.reduce((a: number, b: number) => a + b, 0), TOTAL);
  });

  test('per-root profiles and weight units', () => {
    const doc = toSpeedscope(STACKS, { profilePerRoot: true, unit: 'nanoseconds', weightPerCount: 1000 });
    assert.deepEqual(doc.profiles.map((p) => p.name), ['app', 'node', 'semi:colon']);
    assert.equal(doc.profiles.reduce((a, p) => a + p.weights.reduce((x, y) => x + y, 0), 0), TOTAL * 1000);
    assert.ok(doc.profiles.every((p) => p.unit === 'nanoseconds' && p.endValue === p.weights.reduce((x, y) => x + y, 0)));
    const empty = toSpeedscope([]);
    assert.equal(empty.profiles.length, 1);
    assert.deepEqual(empty.profiles[0]!.samples, []);
  });
});
