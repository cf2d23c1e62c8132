// One session: header with totals and exports, the tree of steps → events and messages, the
// waterfall timeline or the conversation, and the selected event's detail. Selection, tab and
// zoom are in the URL.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { html } from '../html.js';
import { allEvents, allMessages, enc, getJSON } from '../api.js';
import { currentRoute, follow, goBack, setQuery, urlOf } from '../router.js';
import { setKeyHandler } from '../keys.js';
import { VirtualList } from '../components/virtual_list.js';
import { buildNodes, TreeRow } from '../components/tree.js';
import { clampView, layout, Timeline, zoomed } from '../components/timeline.js';
import { EventDetail } from '../components/detail.js';
import { Conversation } from '../components/conversation.js';
import { ExportButtons } from '../components/export.js';
import { isoMs, ms, num, reward, usd, when } from '../format.js';

const TREE_ROW = 26;
// Events drawn before the rest of a long session arrives.
const FIRST_EVENTS = 1000;

function useSession(id) {
  const [data, setData] = useState(null);
  const [error, setError] = useState('');
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let gone = false;
    (async () => {
      try {
        performance.mark('synth:session-fetch');
        // All at once: the first page of events does not wait for the session's timesteps. A long
        // session is drawn from that page while the rest arrive.
        const head = Promise.all([getJSON(`/api/v1/sessions/${enc(id)}`), allMessages(id)]);
        let done = false;
        const all = allEvents(id, {
          firstSize: FIRST_EVENTS,
          // The rest are fetched once this first page is on screen (two frames: rendered, painted).
          onFirst: (first, total) => head.then(([detail, messages]) => {
            if (gone || done) return undefined;
            performance.mark('synth:session-first-page');
            setData({ ...detail, events: first, messages, pending: total });
            return new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
          }, () => {}),
        });
        const [[detail, messages], events] = await Promise.all([head, all]);
        done = true;
        performance.mark('synth:session-all-events');
        if (!gone) setData({ ...detail, events, messages });
      } catch (e) {
        if (!gone) setError(e.message);
      }
    })();
    return () => { gone = true; };
  }, [id, version]);
  // A running session grows: reload when the change feed names it.
  // The feed's position is taken as the page opens, so what is stored while it loads is not missed.
  useEffect(() => {
    let seq = getJSON('/api/v1/health').then((h) => h.rows.seq, () => null);
    const timer = setInterval(async () => {
      try {
        const since = (await seq) ?? (await getJSON('/api/v1/health')).rows.seq;
        const ch = await getJSON(`/api/v1/changes?since=${since}`);
        seq = Promise.resolve(ch.seq);
        if (ch.sessions.some((s) => s.session_id === id)) setVersion((v) => v + 1);
      } catch (e) { /* next tick */ }
    }, 2000);
    return () => clearInterval(timer);
  }, [id]);
  return { data, error };
}

function Totals({ s }) {
  const item = (label, value, testid) => html`<span class="total"><span class="label">${label}</span><b data-testid=${testid}>${value}</b></span>`;
  return html`<div class="totals">
    ${item('start', when(s.started_at))}${item('duration', ms(s.duration_ms))}${item('steps', num(s.num_timesteps))}
    ${item('events', num(s.num_events))}${item('LLM calls', num(s.num_llm_calls))}${item('tokens', num(s.total_tokens))}
    ${item('cost', usd(s.cost), 'session-cost')}${item('reward', reward(s.reward), 'session-reward')}
    ${item('terminated', s.terminated == null ? '—' : s.terminated ? 'yes' : 'no')}${item('errors', num(s.errors))}
    ${item('models', (s.models || []).join(', ') || '—')}
  </div>`;
}

export function SessionView({ id, query }) {
  const { data, error } = useSession(id);
  const [collapsed, setCollapsed] = useState(() => new Set());
  const tab = query.tab || 'timeline';
  const selKey = query.sel || '';

  const t0 = data ? isoMs(data.session.started_at) : 0;
  const model = useMemo(() => (data ? layout(data.events, data.timesteps, t0, data.messages) : null), [data]);
  const nodes = useMemo(() => (data ? buildNodes(data.timesteps, data.events, data.messages, collapsed) : []), [data, collapsed]);
  const selIndex = nodes.findIndex((n) => n.key === selKey);
  const view = useMemo(() => {
    if (!model) return [0, 1];
    const z = (query.zoom || '').split(',').map(Number);
    return z.length === 2 && z.every(Number.isFinite) && z[1] > z[0] ? clampView(z, model.end) : [0, model.end];
  }, [model, query.zoom]);
  const setView = (v) => {
    const [a, b] = clampView(v, model.end);
    setQuery({ zoom: a <= 0 && b >= model.end ? '' : `${a.toFixed(4)},${b.toFixed(4)}` }, { replace: true });
  };
  const select = (key) => setQuery({ sel: key }, { replace: true });
  const selected = nodes[selIndex];
  const eventId = selKey.startsWith('e') ? Number(selKey.slice(1)) : null;

  const toggle = (key) => setCollapsed((c) => {
    const n = new Set(c);
    if (n.has(key)) n.delete(key); else n.add(key);
    return n;
  });
  const back = goBack;

  // Keys read the latest state through a ref, and the selection from the URL (updated at once):
  // keys pressed faster than renders still move one node each.
  const latest = useRef({});
  latest.current = { nodes, collapsed, view, model, setView };
  // Marks for profiling (tests/web/large.test.mjs reads them): when a page of events is drawn,
  // i.e. in the DOM (a layout effect runs as the render is committed; a plain effect only after
  // the next frame and a timer, which a busy machine delays past the rest's requests).
  useLayoutEffect(() => {
    if (data) performance.mark(data.pending ? 'synth:session-first-drawn' : 'synth:session-drawn');
  }, [data]);
  useEffect(() => setKeyHandler((e) => {
    const { nodes: list, collapsed: closed, view: win, model: m, setView: zoomTo } = latest.current;
    const key = currentRoute().query.sel || '';
    const at = list.findIndex((n) => n.key === key);
    const node = list[at];
    const move = (d) => {
      if (list.length === 0) return true;
      const i = Math.max(0, Math.min(list.length - 1, (at < 0 ? (d > 0 ? -1 : list.length) : at) + d));
      select(list[i].key);
      return true;
    };
    const steps = () => new Set(list.filter((n) => n.type === 'step').map((n) => n.key));
    switch (e.key) {
      case 'j': case 'ArrowDown': return move(1);
      case 'k': case 'ArrowUp': return move(-1);
      case 'Enter':
        if (node && node.type === 'step') toggle(node.key);
        return true;
      case 'ArrowLeft': if (node && node.type === 'step' && !closed.has(node.key)) toggle(node.key); return true;
      case 'ArrowRight': if (node && node.type === 'step' && closed.has(node.key)) toggle(node.key); return true;
      case 'Escape':
        if (key) select('');
        else back();
        return true;
      case '[': setCollapsed(steps()); return true;
      case ']': setCollapsed(new Set()); return true;
      case 'w': if (m) zoomTo(zoomed(win, 0.6)); return true;
      case 's': if (m) zoomTo(zoomed(win, 1 / 0.6)); return true;
      case 'a': if (m) zoomTo([win[0] - (win[1] - win[0]) * 0.2, win[1] - (win[1] - win[0]) * 0.2]); return true;
      case 'd': if (m) zoomTo([win[0] + (win[1] - win[0]) * 0.2, win[1] + (win[1] - win[0]) * 0.2]); return true;
      case 'f': if (m) zoomTo([0, m.end]); return true;
      default: return false;
    }
  }), []);

  if (error) return html`<div class="page"><div class="error" data-testid="session-error">${error}</div><a href="/" onClick=${follow}>All sessions</a></div>`;
  if (!data) return html`<div class="page muted">Loading session ${id}…</div>`;
  const s = data.session;
  return html`<div class="session" data-testid="session-view" data-session-id=${s.session_id}>
    <div class="shead2">
      <a href="/" data-testid="back" onClick=${(e) => { e.preventDefault(); back(); }}>← Sessions</a>
      <h2 data-testid="session-title" title=${s.session_id}>${s.session_id}</h2>
      ${s.experiment_id && html`<span class="tag">${s.experiment_id}</span>`}
      <span class="grow"></span>
      <a class="button" href=${urlOf('/compare', { a: s.session_id })} onClick=${follow}>Compare…</a>
      <${ExportButtons} id=${s.session_id} />
    </div>
    <${Totals} s=${s} />
    <div class="split">
      <div class="left">
        <div class="tree-tools"><button onClick=${() => setCollapsed(new Set(nodes.filter((n) => n.type === 'step').map((n) => n.key)))}>Collapse [</button>
          <button onClick=${() => setCollapsed(new Set())}>Expand ]</button><span class="muted" data-testid="tree-count">${data.pending ? `loading events: ${data.events.length} of ${data.pending}…` : `${data.events.length} events`} · ${data.messages.length} messages</span></div>
        <${VirtualList} testid="tree" className="tree" count=${nodes.length} rowHeight=${TREE_ROW} selected=${selIndex}
          renderRow=${(i, style) => html`<${TreeRow} key=${nodes[i].key} node=${nodes[i]} style=${style} selected=${i === selIndex}
            collapsed=${collapsed.has(nodes[i].key)} onClick=${() => { select(nodes[i].key); if (nodes[i].type === 'step' && nodes[i].key === selKey) toggle(nodes[i].key); }} />`} />
      </div>
      <div class="right">
        <div class="tabs">
          <button class=${tab === 'timeline' ? 'on' : ''} data-testid="tab-timeline" onClick=${() => setQuery({ tab: '' }, { replace: true })}>Timeline</button>
          <button class=${tab === 'conversation' ? 'on' : ''} data-testid="tab-conversation" onClick=${() => setQuery({ tab: 'conversation' }, { replace: true })}>Conversation</button>
        </div>
        ${tab === 'timeline'
          ? html`<${Timeline} model=${model} view=${view} onView=${setView} selectedId=${eventId ?? (selKey || null)}
              onSelect=${(it) => select(it.kind === 'step' || it.kind === 'message' ? it.id : `e${it.id}`)} />`
          : html`<${Conversation} steps=${data.timesteps} messages=${data.messages} onSelect=${(m) => select(`m${m.id}`)} selKey=${selKey} />`}
        ${eventId != null && html`<${EventDetail} id=${eventId} onClose=${() => select('')} />`}
        ${selected && selected.type === 'message' && html`<div class="detail" data-testid="message-detail"><div class="dhead"><b>${selected.msg.message_type}</b>
          <span class="muted">${selected.msg.content?.origin_system_id ?? ''} · ${when(selected.msg.timestamp)}</span></div>
          <pre class="text">${JSON.stringify(selected.msg.content, null, 2)}</pre></div>`}
        ${selected && selected.type === 'step' && selected.step.id != null && html`<div class="detail" data-testid="step-detail">
          <div class="dhead"><b>${selected.step.step_id}</b><span class="muted">${ms(isoMs(selected.step.ended_at) - isoMs(selected.step.started_at))}</span></div>
          <div class="fields">${['num_events', 'num_messages', 'llm_calls', 'tokens', 'cost', 'reward', 'terminated', 'errors'].map((k) => html`<div class="field"><span class="label">${k}</span><span class="value">${k === 'cost' ? usd(selected.step[k]) : k === 'reward' ? reward(selected.step[k]) : String(selected.step[k] ?? '—')}</span></div>`)}</div>
          </div>`}
      </div>
    </div>
  </div>`;
}
