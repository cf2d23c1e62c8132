// Sessions: one row per session (episode / rollout / conversation), sorted and filtered on the
// server (keyset pages, loaded as the list scrolls), new sessions arriving live.
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { html } from '../html.js';
import { enc, getJSON } from '../api.js';
import { navigate, setQuery, urlOf, follow } from '../router.js';
import { setKeyHandler } from '../keys.js';
import { VirtualList } from '../components/virtual_list.js';
import { FilterBar, listParams } from './filters.js';
import { ms, num, preview, reward, usd, when } from '../format.js';

const PAGE = 200;
const ROW = 30;

// [label, value, server sort key, css class]. The server sorts by every column (text without
// regard to case, on its first 200 characters), ties broken by session id.
const COLUMNS = [
  ['Session', (s) => s.session_id, 'session_id', 'id'],
  ['Experiment', (s) => s.experiment_id || '', 'experiment', 'exp'],
  ['Start', (s) => when(s.started_at), 'time', 'when'],
  ['Duration', (s) => ms(s.duration_ms), 'duration', 'n'],
  ['Steps', (s) => num(s.num_timesteps), 'steps', 'n'],
  ['Events', (s) => num(s.num_events), 'events', 'n'],
  ['LLM', (s) => num(s.num_llm_calls), 'llm_calls', 'n'],
  ['Tokens', (s) => num(s.total_tokens), 'tokens', 'n'],
  ['Cost', (s) => usd(s.cost), 'cost', 'n'],
  ['Reward', (s) => reward(s.reward), 'reward', 'n'],
  ['Term.', (s) => (s.terminated == null ? '—' : s.terminated ? 'yes' : 'no'), 'terminated', 'flag'],
  ['Errors', (s) => num(s.errors), 'errors', 'n'],
  ['Models', (s) => (s.models || []).join(', '), 'models', 'models'],
  ['First message', (s) => preview(s.first_message, 120), 'first_message', 'msg'],
  ['Last message', (s) => preview(s.last_message, 120), 'last_message', 'msg'],
];
// Text columns sort A→Z on their first click, numbers and times largest first.
const TEXT_SORTS = new Set(['session_id', 'experiment', 'models', 'first_message', 'last_message']);

function sessionUrl(s) {
  return urlOf(`/sessions/${enc(s.session_id)}`);
}

export function SessionsView({ query, live }) {
  const [rows, setRows] = useState([]);
  const [cursor, setCursor] = useState(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState('');
  const [sel, setSel] = useState(-1);
  const [refresh, setRefresh] = useState(0);
  const [waiting, setWaiting] = useState(0);
  const [ready, setReady] = useState(false);
  const loaded = useRef(0);
  loaded.current = rows.length;
  const gen = useRef(0);
  const sort = query.sort || 'time';
  const order = query.order || 'desc';
  const params = { ...listParams(query), sort, order };
  const key = JSON.stringify(params);

  const load = useCallback(async (after, reset) => {
    const mine = reset ? ++gen.current : gen.current;
    setLoading(true);
    try {
      const qs = new URLSearchParams({ ...params, limit: PAGE, ...(after ? { cursor: after } : {}) });
      const page = await getJSON(`/api/v1/sessions?${qs}`);
      if (mine !== gen.current) return;
      setRows((old) => (reset ? page.sessions : old.concat(page.sessions)));
      setCursor(page.next_cursor || null);
      setError('');
    } catch (e) {
      if (mine !== gen.current) return;
      if (reset) setRows([]);
      setCursor(null);
      setError(e.message);
    } finally {
      if (mine === gen.current) {
        setLoading(false);
        setReady(true);
      }
    }
  }, [key]);

  // A layout effect: the first page's request leaves before the first paint, not after it.
  useLayoutEffect(() => {
    setWaiting(0);
    load(null, true);
  }, [key, refresh]);

  // Live: poll the change feed; new or finished sessions reload the first page. Switched back
  // on, it reloads at once: what arrived while paused is not in the feed's future.
  const wasLive = useRef(live);
  useEffect(() => {
    if (!live) {
      wasLive.current = false;
      return undefined;
    }
    if (!wasLive.current) setRefresh((r) => r + 1);
    wasLive.current = true;
    let seq = null;
    let stop = false;
    const tick = async () => {
      try {
        if (seq == null) seq = (await getJSON('/api/v1/health')).rows.seq;
        const ch = await getJSON(`/api/v1/changes?since=${seq}`);
        // Deep in the list, a reload would lose the reader's place: offer it instead.
        if (!stop && ch.sessions.length > 0) {
          if (loaded.current > PAGE) setWaiting((n) => n + ch.sessions.length);
          else setRefresh((r) => r + 1);
        }
        seq = ch.seq;
      } catch (e) { /* the next tick tries again */ }
    };
    tick();
    const timer = setInterval(tick, 1500);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [live]);

  // The selected row (keyboard) is in the URL, so back returns to it.
  useEffect(() => {
    if (!query.sel) return;
    const i = rows.findIndex((s) => s.session_id === query.sel);
    if (i >= 0) setSel(i);
  }, [rows, query.sel]);

  const open = (i) => {
    const s = rows[i];
    if (!s) return;
    setQuery({ sel: s.session_id }, { replace: true });
    navigate(`/sessions/${enc(s.session_id)}`);
  };

  // Keys read the latest rows and selection through refs: a key pressed before the next render
  // (j then Enter at once) must see the move.
  const latest = useRef({});
  latest.current = { rows, open };
  const selRef = useRef(-1);
  selRef.current = sel;
  useEffect(() => setKeyHandler((e) => {
    const { rows: list, open: go } = latest.current;
    const move = (d) => {
      const i = Math.max(0, Math.min(list.length - 1, selRef.current + d));
      selRef.current = i;
      setSel(i);
      return true;
    };
    if (e.key === 'j' || e.key === 'ArrowDown') return move(1);
    if (e.key === 'k' || e.key === 'ArrowUp') return move(-1);
    if (e.key === 'Enter' && selRef.current >= 0) {
      go(selRef.current);
      return true;
    }
    return false;
  }), []);

  const sortBy = (k) => {
    if (sort === k) setQuery({ sort: k, order: order === 'desc' ? 'asc' : 'desc' });
    else setQuery({ sort: k, order: TEXT_SORTS.has(k) ? 'asc' : 'desc' });
  };
  const row = (i, style) => {
    const s = rows[i];
    const cls = `srow${i === sel ? ' sel' : ''}${s.errors > 0 ? ' err' : ''}`;
    return html`<a key=${s.session_id} class=${cls} style=${style} href=${sessionUrl(s)} data-testid="session-row"
      data-session-id=${s.session_id} onClick=${(e) => { setSel(i); setQuery({ sel: s.session_id }, { replace: true }); follow(e); }}>
      ${COLUMNS.map(([label, value, , c]) => html`<span class=${c} title=${c === 'msg' || c === 'id' || c === 'models' ? value(s) : undefined}>${value(s)}</span>`)}
    </a>`;
  };
  return html`<div class="sessions">
    <${FilterBar} query=${query} error=${error} ready=${ready} />
    ${waiting > 0 && html`<button class="new-sessions" data-testid="new-sessions" onClick=${() => setRefresh((r) => r + 1)}>
      ↑ ${waiting} new or changed session${waiting === 1 ? '' : 's'}: show</button>`}
    <div class="shead srow">
      ${COLUMNS.map(([label, , k, c]) => html`<span class="${c} sortable${k === sort ? ' sorted' : ''}"
        data-testid=${`sort-${k}`} onClick=${() => sortBy(k)} title="Sort by this column (click again to reverse)"
        >${label}${k === sort ? (order === 'desc' ? ' ▼' : ' ▲') : ''}</span>`)}
    </div>
    <${VirtualList} testid="sessions-list" className="slist" count=${rows.length} rowHeight=${ROW} selected=${sel} resetKey=${`${key}/${refresh}`}
      renderRow=${row} onNearEnd=${() => cursor && !loading && load(cursor, false)} />
    <div class="status" data-testid="list-status">${rows.length} session${rows.length === 1 ? '' : 's'}${cursor ? ' (more as you scroll)' : ''}${loading ? ' · loading…' : ''}${live ? ' · live' : ' · paused'}</div>
  </div>`;
}
