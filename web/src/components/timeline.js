// The waterfall: a ruler, a minimap with the visible window, one lane per event kind (events
// that overlap in time get rows of their own) and a lane of cumulative reward and cost. Zoom
// and pan with the mouse (Ctrl+wheel, drag, Shift+wheel) or w/s/a/d; the window is in the URL.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { html } from '../html.js';
import { isoMs, ms, usd, reward as fmtReward } from '../format.js';

const GUTTER = 92;
const ROW = 16;
const GAP = 3;
const RULER = 22;
const COUNTER = 40;
const KINDS = [['cais', 'LLM calls'], ['environment', 'env steps'], ['runtime', 'runtime']];
const COLORS = { step: 'var(--c-step)', cais: 'var(--c-cais)', environment: 'var(--c-env)', runtime: 'var(--c-rt)', message: 'var(--c-msg)' };
const TESTID = { step: 'tl-step', message: 'tl-message' };

/** Events and steps placed in lanes and rows; times in ms from the session's start. */
export function layout(events, steps, t0, messages = []) {
  const lanes = [];
  const stepItems = steps
    .filter((s) => s.started_at)
    .map((s) => {
      const start = isoMs(s.started_at) - t0;
      const end = s.ended_at ? isoMs(s.ended_at) - t0 : start;
      return { id: `s${s.id}`, name: s.step_id, kind: 'step', start, end: Math.max(end, start), row: 0, ref: s };
    });
  lanes.push({ kind: 'step', label: 'steps', rows: 1, items: stepItems });
  let end = stepItems.reduce((m, s) => Math.max(m, s.end), 0);
  for (const [kind, label] of KINDS) {
    const items = events
      .filter((e) => e.kind === kind && e.started_at)
      .map((e) => {
        const start = isoMs(e.started_at) - t0;
        return { id: e.id, name: e.name || kind, kind, start, end: start + Math.max(0, e.duration_ms || 0), ref: e };
      })
      .sort((a, b) => a.start - b.start || a.id - b.id);
    if (items.length === 0) continue;
    const rowEnds = [];
    for (const it of items) {
      let r = rowEnds.findIndex((x) => x <= it.start);
      if (r < 0) r = rowEnds.push(0) - 1;
      rowEnds[r] = it.end;
      it.row = r;
      end = Math.max(end, it.end);
    }
    lanes.push({ kind, label, rows: rowEnds.length, items });
  }
  // Messages as instants on a lane of their own.
  const marks = messages
    .filter((m) => m.timestamp || m.event_time)
    .map((m) => {
      const t = isoMs(m.timestamp || m.event_time) - t0;
      return { id: `m${m.id}`, name: `${m.message_type} from ${m.content?.origin_system_id ?? '?'}`, kind: 'message', start: t, end: t, row: 0 };
    })
    .sort((a, b) => a.start - b.start);
  if (marks.length > 0) {
    lanes.push({ kind: 'message', label: 'messages', rows: 1, items: marks });
    end = Math.max(end, marks[marks.length - 1].end);
  }
  // Cumulative reward (environment steps) and cost (LLM calls), in end-time order.
  const points = events
    .filter((e) => (e.kind === 'environment' && typeof e.reward === 'number') || (e.kind === 'cais' && typeof e.cost === 'number'))
    .map((e) => ({ t: isoMs(e.started_at) - t0 + (e.duration_ms || 0), r: e.kind === 'environment' ? e.reward : 0, c: e.kind === 'cais' ? e.cost : 0 }))
    .sort((a, b) => a.t - b.t);
  let r = 0;
  let c = 0;
  const cumulative = points.map((p) => ({ t: p.t, r: (r += p.r), c: (c += p.c) }));
  return { lanes, end: Math.max(end, 1e-3), cumulative };
}

function niceStep(span) {
  const raw = span / 8;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) || raw;
}

export function zoomed(view, factor, center) {
  const [a, b] = view;
  const c = center ?? (a + b) / 2;
  return [c - (c - a) * factor, c + (b - c) * factor];
}

export function clampView([a, b], end) {
  const span = Math.min(Math.max(b - a, end / 1e6, 1e-6), end);
  let lo = Math.max(0, a);
  if (lo + span > end) lo = end - span;
  return [Math.max(0, lo), Math.max(0, lo) + span];
}

function Minimap({ model, view, width, onView }) {
  const canvas = useRef(null);
  useEffect(() => {
    const cv = canvas.current;
    if (!cv || width <= 0) return;
    const dpr = window.devicePixelRatio || 1;
    cv.width = width * dpr;
    cv.height = 24 * dpr;
    const g = cv.getContext('2d');
    g.scale(dpr, dpr);
    const css = getComputedStyle(cv);
    const rowsTotal = model.lanes.reduce((n, l) => n + l.rows, 0) || 1;
    const h = 24 / rowsTotal;
    let y = 0;
    for (const lane of model.lanes) {
      g.fillStyle = css.getPropertyValue(`--mm-${lane.kind}`) || '#888';
      for (const it of lane.items) g.fillRect((it.start / model.end) * width, y + it.row * h, Math.max(1, ((it.end - it.start) / model.end) * width), Math.max(1, h - 0.5));
      y += lane.rows * h;
    }
  }, [model, width]);
  const x0 = (view[0] / model.end) * width;
  const x1 = (view[1] / model.end) * width;
  const jump = (e) => {
    const r = e.currentTarget.getBoundingClientRect();
    const c = ((e.clientX - r.left) / r.width) * model.end;
    const half = (view[1] - view[0]) / 2;
    onView([c - half, c + half]);
  };
  return html`<div class="minimap" style=${{ marginLeft: `${GUTTER}px`, width: `${width}px` }} onMouseDown=${jump}
      onMouseMove=${(e) => e.buttons === 1 && jump(e)} data-testid="minimap" title="Click or drag to move the window">
    <canvas ref=${canvas} style=${{ width: `${width}px`, height: '24px' }}></canvas>
    <div class="window" style=${{ left: `${x0}px`, width: `${Math.max(2, x1 - x0)}px` }}></div>
  </div>`;
}

export function Timeline({ model, view, onView, selectedId, onSelect }) {
  const box = useRef(null);
  // 0 until measured: the bars are drawn once, at the real width (a first drawing at a guessed
  // width, redrawn when the ResizeObserver answers, cost a 10k-event session a second render).
  const [width, setWidth] = useState(0);
  const drag = useRef(null);
  useLayoutEffect(() => {
    const el = box.current;
    const measure = () => setWidth(Math.max(200, el.clientWidth));
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  if (!width) return html`<div class="timeline" ref=${box} data-testid="timeline"></div>`;
  const [v0, v1] = view;
  const inner = width - GUTTER - 8;
  const x = (t) => GUTTER + ((t - v0) / (v1 - v0)) * inner;
  const toTime = (clientX) => v0 + ((clientX - box.current.getBoundingClientRect().left - GUTTER) / inner) * (v1 - v0);

  const onWheel = (e) => {
    if (e.ctrlKey || e.metaKey) {
      e.preventDefault();
      onView(zoomed(view, Math.exp(e.deltaY / 300), toTime(e.clientX)));
    } else if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
      e.preventDefault();
      const d = ((e.shiftKey ? e.deltaY : e.deltaX) / inner) * (v1 - v0);
      onView([v0 + d, v1 + d]);
    }
  };
  const onDown = (e) => {
    if (e.target.closest('[data-testid=tl-bar]')) return;
    drag.current = { x: e.clientX, view };
  };
  const onMove = (e) => {
    if (!drag.current || e.buttons !== 1) return;
    const d = ((drag.current.x - e.clientX) / inner) * (view[1] - view[0]);
    onView([drag.current.view[0] + d, drag.current.view[1] + d]);
  };

  const bar = (it, bx, bw, top) => {
    const by = top + it.row * (ROW + GAP);
    const sel = it.id === selectedId;
    return html`<g class=${`bar${sel ? ' sel' : ''}`} data-testid=${TESTID[it.kind] || 'tl-bar'} data-event-id=${it.id}
        data-kind=${it.kind} data-row=${it.row} onClick=${() => onSelect(it)}>
      <rect x=${bx} y=${by} width=${bw} height=${ROW} rx="2" fill=${COLORS[it.kind]} />
      ${bw > 40 && html`<text class="bar-label" x=${bx + 3} y=${by + 12}>${it.name.length * 6 > bw ? `${it.name.slice(0, Math.max(1, Math.floor(bw / 6) - 1))}…` : it.name}</text>`}
      <title>${it.name} · ${ms(it.end - it.start)} at +${ms(it.start)}</title>
    </g>`;
  };
  const step = niceStep(v1 - v0);
  const ticks = [];
  for (let t = Math.ceil(v0 / step) * step; t <= v1; t += step) ticks.push(t);
  let y = RULER + 4;
  const parts = [];
  for (const lane of model.lanes) {
    const top = y;
    const h = lane.rows * (ROW + GAP);
    parts.push(html`<text class="lane-label" x="4" y=${top + 12}>${lane.label}${lane.rows > 1 ? ` (${lane.rows})` : ''}</text>
      <line class="lane-sep" x1="0" x2=${width} y1=${top + h + 2} y2=${top + h + 2} />`);
    // Bars narrower than a few pixels that touch merge into one cluster per row (click to zoom
    // into it), each at most 6 px wide: a row draws a few hundred shapes whatever the event count.
    const pending = new Map();
    const flush = (row) => {
      const c = pending.get(row);
      pending.delete(row);
      if (!c) return;
      if (c.items.length === 1) {
        parts.push(bar(c.items[0], c.x0, c.x1 - c.x0, top));
        return;
      }
      const first = c.items[0];
      const last = c.items[c.items.length - 1];
      parts.push(html`<g class="bar cluster" data-testid="tl-cluster" data-kind=${lane.kind} data-row=${row}
          onClick=${() => onView([first.start, Math.max(last.end, first.start + 1e-3)])}>
        <rect x=${c.x0} y=${top + row * (ROW + GAP)} width=${Math.max(1.5, c.x1 - c.x0)} height=${ROW} fill=${COLORS[lane.kind]} opacity="0.6" />
        <title>${c.items.length} ${lane.label} from +${ms(first.start)} to +${ms(last.end)}: click to zoom in</title>
      </g>`);
    };
    for (const it of lane.items) {
      if (it.end < v0 || it.start > v1) continue;
      const bx = Math.max(GUTTER, x(it.start));
      const bw = Math.max(1.5, Math.min(width, x(it.end)) - bx);
      const c = pending.get(it.row);
      if (bw < 3 && c && bx <= c.x1 + 1 && bx + bw - c.x0 <= 6) {
        c.x1 = Math.max(c.x1, bx + bw);
        c.items.push(it);
        continue;
      }
      flush(it.row);
      if (bw < 3) pending.set(it.row, { x0: bx, x1: bx + bw, items: [it] });
      else parts.push(bar(it, bx, bw, top));
    }
    for (const row of [...pending.keys()]) flush(row);
    y += h + 6;
  }
  // Cumulative reward and cost, each scaled to the lane.
  const cum = model.cumulative;
  if (cum.length > 0) {
    const top = y;
    const line = (key) => {
      const vals = cum.map((p) => p[key]);
      const lo = Math.min(0, ...vals);
      const hi = Math.max(0, ...vals);
      const sy = (v) => top + COUNTER - 4 - ((v - lo) / (hi - lo || 1)) * (COUNTER - 8);
      let d = `M${GUTTER},${sy(0)}`;
      for (const p of cum) d += ` L${Math.max(GUTTER, Math.min(width, x(p.t)))},${sy(p[key])}`;
      return d;
    };
    const last = cum[cum.length - 1];
    parts.push(html`<text class="lane-label" x="4" y=${top + 12}>reward</text>
      <text class="lane-label cost" x="4" y=${top + 26}>cost</text>
      <path class="cum reward" d=${line('r')} data-testid="tl-reward" /><path class="cum cost" d=${line('c')} />
      <text class="lane-value" x=${width - 6} y=${top + 12} text-anchor="end">Σ reward ${fmtReward(last.r)} · Σ cost ${usd(last.c)}</text>`);
    y += COUNTER + 4;
  }
  return html`<div class="timeline" ref=${box} data-testid="timeline">
    <${Minimap} model=${model} view=${view} width=${inner} onView=${onView} />
    <svg width=${width} height=${y} onWheel=${onWheel} onMouseDown=${onDown} onMouseMove=${onMove}
        onMouseUp=${() => { drag.current = null; }} onDblClick=${() => onView([0, model.end])}>
      ${ticks.map((t) => html`<line class="tick" x1=${x(t)} x2=${x(t)} y1=${RULER - 6} y2=${y} />
        <text class="tick-label" x=${x(t) + 2} y=${RULER - 9}>${ms(t)}</text>`)}
      ${parts}
    </svg>
  </div>`;
}
