// The server's JSON API (README: Routes). Errors carry the server's message, which says what to do.
export async function getJSON(url, init) {
  const res = await fetch(url, init);
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(body && body.error ? body.error : `HTTP ${res.status} for ${url}`);
  return body;
}

export function postJSON(url, data) {
  return getJSON(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(data) });
}

export const enc = encodeURIComponent;

/** Every event of a session (light rows, no payloads). The first page (`firstSize` events) says
 * how many there are and is handed to `onFirst` (the view draws it at once); when onFirst returns
 * a promise (the page is drawn), the rest wait for it, so that they do not compete with that
 * first drawing for the machine's cores; they come `parallel` pages at a time (more only compete
 * for the server's cores). */
export async function allEvents(sessionId, { firstSize = 1000, pageSize = 1000, parallel = 3, onFirst } = {}) {
  const url = (offset, limit) => `/api/v1/sessions/${enc(sessionId)}/events?offset=${offset}&limit=${limit}`;
  const first = await getJSON(url(0, firstSize));
  const offsets = [];
  for (let offset = firstSize; offset < first.total; offset += pageSize) offsets.push(offset);
  if (offsets.length > 0 && onFirst) await onFirst(first.events, first.total);
  const pages = new Array(offsets.length);
  let next = 0;
  const worker = async () => {
    while (next < offsets.length) {
      const i = next++;
      pages[i] = (await getJSON(url(offsets[i], pageSize))).events;
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, offsets.length) }, worker));
  return first.events.concat(...pages);
}

export async function allMessages(sessionId, pageSize = 1000, max = 20000) {
  const out = [];
  for (let offset = 0; offset < max; offset += pageSize) {
    const page = await getJSON(`/api/v1/sessions/${enc(sessionId)}/messages?offset=${offset}&limit=${pageSize}`);
    out.push(...page.messages);
    if (page.messages.length < pageSize || out.length >= page.total) break;
  }
  return out;
}
