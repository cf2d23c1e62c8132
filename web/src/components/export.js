// Downloads of the session in the export route's formats, and "Open in Perfetto": Perfetto's
// documented postMessage protocol (perfetto.dev, "Deep linking to the Perfetto UI"): open
// ui.perfetto.dev in a new tab, post 'PING' until it answers 'PONG' (its listener starts late and
// the channel is not buffered), then post {perfetto: {buffer: ArrayBuffer, title, fileName, url}}.
// Needs the internet; the download does not, so every failure says to use it.
import { useState } from 'preact/hooks';
import { html } from '../html.js';
import { enc } from '../api.js';

const FORMATS = [['json', 'JSON'], ['otlp-json', 'OTLP JSON'], ['chrome', 'Chrome Trace']];
const PERFETTO = 'https://ui.perfetto.dev';
const PING_MS = 250;
const GIVE_UP_MS = 10000;

async function openInPerfetto(id, setNote) {
  // window.open must run in the click itself, before any await, or popup blockers refuse it.
  const win = window.open(PERFETTO);
  if (!win) {
    setNote('The browser blocked the new tab: allow pop-ups for this page, or download the Chrome Trace and open it in ui.perfetto.dev.');
    return;
  }
  setNote('Opening in Perfetto…');
  let buffer;
  try {
    const res = await fetch(`/api/v1/sessions/${enc(id)}/export?format=chrome`);
    if (!res.ok) throw new Error(`the export answered ${res.status}`);
    buffer = await res.arrayBuffer();
  } catch (e) {
    win.close();
    setNote(`Could not export the session for Perfetto (${e.message}): try the Chrome Trace download.`);
    return;
  }
  const started = Date.now();
  let timer;
  const stop = () => { clearInterval(timer); window.removeEventListener('message', onMessage); };
  const onMessage = (e) => {
    if (e.source !== win || e.data !== 'PONG') return;
    stop();
    win.postMessage({ perfetto: { buffer, title: id, fileName: `${id}.chrome.json`, url: location.href } }, PERFETTO);
    setNote('Sent to Perfetto (in the new tab).');
  };
  window.addEventListener('message', onMessage);
  const ping = () => {
    if (win.closed) {
      stop();
      setNote('The Perfetto tab was closed before it loaded: download the Chrome Trace to open it offline.');
    } else if (Date.now() - started > GIVE_UP_MS) {
      stop();
      setNote(`ui.perfetto.dev did not answer in ${GIVE_UP_MS / 1000} s (no internet?): download the Chrome Trace and open it in Perfetto instead.`);
    } else {
      // Addressed to Perfetto's origin: while the tab shows an error page, nothing is delivered.
      win.postMessage('PING', PERFETTO);
    }
  };
  timer = setInterval(ping, PING_MS);
  ping();
}

export function ExportButtons({ id }) {
  const [note, setNote] = useState('');
  return html`<span class="exports">
    ${FORMATS.map(([f, label]) => html`<a class="button" data-testid=${`export-${f}`} download=${`${id}.${f === 'json' ? 'json' : `${f}.json`}`}
      href=${`/api/v1/sessions/${enc(id)}/export?format=${f}`}>${label}</a>`)}
    <button data-testid="open-perfetto" onClick=${() => openInPerfetto(id, setNote)}
      title="Opens ui.perfetto.dev in a new tab and sends it this session (needs the internet; without it, use the Chrome Trace download)">Open in Perfetto</button>
    ${note && html`<span class="warn" data-testid="perfetto-note" role="status">${note}</span>`}
  </span>`;
}
