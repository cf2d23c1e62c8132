// Read-only SQL (POST /api/v1/query): results as a table, CSV download.
import { useState } from 'preact/hooks';
import { html } from '../html.js';
import { postJSON } from '../api.js';
import { setQuery } from '../router.js';

const EXAMPLE = 'SELECT event_type, COUNT(*) AS n FROM events GROUP BY ALL ORDER BY n DESC';

function csv(result) {
  const cell = (v) => {
    const s = v == null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [result.columns.map(cell).join(','), ...result.rows.map((r) => r.map(cell).join(','))].join('\n') + '\n';
}

export function SqlView({ query }) {
  const [sql, setSql] = useState(query.q || EXAMPLE);
  const [result, setResult] = useState(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    setQuery({ q: sql }, { replace: true });
    try {
      setResult(await postJSON('/api/v1/query', { sql }));
      setError('');
    } catch (e) {
      setResult(null);
      setError(e.message);
    } finally {
      setBusy(false);
    }
  };
  const download = () => {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([csv(result)], { type: 'text/csv' }));
    a.download = 'query.csv';
    a.click();
  };
  return html`<div class="page sql">
    <p class="muted">Read-only SQL on the server's database (tables: session_traces, session_timesteps, events, messages, session_stats, ...). Ctrl+Enter runs.</p>
    <textarea data-testid="sql-input" rows="6" value=${sql} onInput=${(e) => setSql(e.currentTarget.value)}
      onKeyDown=${(e) => e.key === 'Enter' && (e.ctrlKey || e.metaKey) && run()}></textarea>
    <div class="row"><button data-testid="sql-run" onClick=${run} disabled=${busy}>Run</button>
      ${result && html`<button onClick=${download}>Download CSV</button>
        <span class="muted">${result.rows.length} rows${result.truncated ? ` (cut at ${result.max_rows})` : ''}</span>`}</div>
    ${error && html`<div class="error" data-testid="sql-error">${error}</div>`}
    ${result && html`<div class="scroll"><table class="grid" data-testid="sql-result">
      <tr>${result.columns.map((c, i) => html`<th title=${result.types[i]}>${c}</th>`)}</tr>
      ${result.rows.map((r) => html`<tr>${r.map((v) => html`<td>${v == null ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v)}</td>`)}</tr>`)}
    </table></div>`}
  </div>`;
}
