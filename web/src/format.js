// Numbers, times and costs as people read them. Everything returns plain strings (rendered as text).
export const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

export function ms(v) {
  if (!isNum(v)) return '—';
  if (v === 0) return '0';
  if (v < 1) return `${(v * 1000).toFixed(v < 0.01 ? 2 : 0)} µs`;
  if (v < 1000) return `${v.toFixed(v < 10 ? 2 : 0)} ms`;
  if (v < 60000) return `${(v / 1000).toFixed(2)} s`;
  return `${Math.floor(v / 60000)} m ${Math.round((v % 60000) / 1000)} s`;
}

export function usd(v) {
  if (!isNum(v)) return '—';
  if (v === 0) return '$0';
  if (v < 0.01) return `$${v.toPrecision(3)}`;
  return `$${v.toFixed(v < 10 ? 4 : 2)}`;
}

export function num(v) {
  if (!isNum(v)) return '—';
  return Number.isInteger(v) ? v.toLocaleString('en-US') : v.toFixed(3).replace(/\.?0+$/, '');
}

export function reward(v) {
  if (!isNum(v)) return '—';
  return (v > 0 ? '+' : '') + v.toFixed(Math.abs(v) < 10 ? 3 : 1).replace(/\.?0+$/, '');
}

export const t = (iso) => (iso ? Date.parse(iso) : NaN);

export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Microsecond-precise start offset of an ISO time (the server writes µs), in ms. */
export function isoMs(iso) {
  if (!iso) return NaN;
  const m = /\.(\d+)Z?$/.exec(iso);
  const base = Date.parse(iso.replace(/\.\d+/, ''));
  return m ? base + Number(`0.${m[1]}`) * 1000 : base;
}

export function preview(text, n = 200) {
  if (text == null) return '';
  const s = String(text);
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

export const KIND_GLYPH = { cais: '◆', environment: '▲', runtime: '■', step: '▣', message: '✉' };
export const KIND_LABEL = { cais: 'LLM', environment: 'env', runtime: 'runtime' };
