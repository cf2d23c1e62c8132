// Downloads of the session in the export route's formats, and "Open in Perfetto" (posts the
// Chrome trace to ui.perfetto.dev in a new tab; needs the internet, the download does not).
import { useState } from 'preact/hooks';
import { html } from '../html.js';
import { enc } from '../api.js';

const FORMATS = [['json', 'JSON'], ['otlp-json', 'OTLP JSON'], ['chrome', 'Chrome Trace']];

async function openInPerfetto(id, setNote) {
  const url = `/api/v1/sessions/${enc(id)}/export?format=chrome`;
  const win = window.open('https://ui.perfetto.dev');
  if (!win) {
    setNote('The browser blocked the new tab: download the Chrome Trace and open it in Perfetto.');
    return;
  }
  const buffer = await (await fetch(url)).arrayBuffer();
  let tries = 0;
  const onMessage = (e) => {
    if (e.source !== win || e.data !== 'PONG') return;
    clearInterval(timer);
    window.removeEventListener('message', onMessage);
    win.postMessage({ perfetto: { buffer, title: id, fileName: `${id}.json` } }, 'https://ui.perfetto.dev');
  };
  window.addEventListener('message', onMessage);
  const timer = setInterval(() => {
    win.postMessage('PING', 'https://ui.perfetto.dev');
    if (++tries > 40) {
      clearInterval(timer);
      window.removeEventListener('message', onMessage);
      setNote('Perfetto did not answer (no internet?): download the Chrome Trace and open it there.');
    }
  }, 250);
}

export function ExportButtons({ id }) {
  const [note, setNote] = useState('');
  return html`<span class="exports">
    ${FORMATS.map(([f, label]) => html`<a class="button" data-testid=${`export-${f}`} download=${`${id}.${f === 'json' ? 'json' : `${f}.json`}`}
      href=${`/api/v1/sessions/${enc(id)}/export?format=${f}`}>${label}</a>`)}
    <button onClick=${() => openInPerfetto(id, setNote)} title="Opens ui.perfetto.dev (needs the internet)">Open in Perfetto</button>
    ${note && html`<span class="warn">${note}</span>`}
  </span>`;
}
