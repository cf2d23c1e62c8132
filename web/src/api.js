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

/** Every event of a session (light rows, no payloads): the first page says how many, the rest
 * are fetched in parallel. */
export async function allEvents(sessionId, pageSize = 1000) {
  const url = (offset) => `/api/v1/sessions/${enc(sessionId)}/events?offset=${offset}&limit=${pageSize}`;
  const first = await getJSON(url(0));
  const rest = [];
  for (let offset = pageSize; offset < first.total; offset += pageSize) rest.push(getJSON(url(offset)));
  return first.events.concat(...(await Promise.all(rest)).map((p) => p.events));
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
