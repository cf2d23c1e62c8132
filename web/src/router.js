// A small history-API router: the view's whole state lives in the URL (path + query), so a
// pasted link reopens the same view and back/forward work. navigate() pushes (a new view or
// filter) or replaces (an adjustment such as a selection).
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set();

export function currentRoute() {
  const u = new URL(window.location.href);
  return { path: u.pathname, query: Object.fromEntries(u.searchParams) };
}

export function urlOf(path, query = {}) {
  const qs = new URLSearchParams(
    Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== '' && v !== false),
  ).toString();
  return path + (qs ? `?${qs}` : '');
}

export function navigate(path, query = {}, { replace = false } = {}) {
  const url = urlOf(path, query);
  if (url === window.location.pathname + window.location.search) return;
  const depth = (window.history.state && window.history.state.depth) || 0;
  window.history[replace ? 'replaceState' : 'pushState']({ depth: replace ? depth : depth + 1 }, '', url);
  listeners.forEach((l) => l());
}

/** Back within the viewer when the previous entry is one of its views, else to the list. */
export function goBack() {
  if (window.history.state && window.history.state.depth > 0) window.history.back();
  else navigate('/');
}

/** Changes some query parameters of the current route. */
export function setQuery(changes, options) {
  const r = currentRoute();
  navigate(r.path, { ...r.query, ...changes }, options);
}

window.addEventListener('popstate', () => listeners.forEach((l) => l()));

export function useRoute() {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const l = () => setRoute(currentRoute());
    listeners.add(l);
    return () => listeners.delete(l);
  }, []);
  return route;
}

/** onClick for an <a href>: in-app navigation unless a modifier asks for a new tab. */
export function follow(e) {
  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  const u = new URL(e.currentTarget.href);
  navigate(u.pathname, Object.fromEntries(u.searchParams));
}
