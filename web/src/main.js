// The viewer's shell: header, route dispatch, global keys, live toggle, theme.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './style.css';
import { html } from './html.js';
import { follow, useRoute } from './router.js';
import { installKeys, SHORTCUTS } from './keys.js';
import { SessionsView } from './views/sessions.js';
import { SessionView } from './views/session.js';
import { CompareView } from './views/compare.js';
import { StatsView } from './views/stats.js';
import { SqlView } from './views/sql.js';

let toggleHelp = () => {};
let helpOpen = false;

function Help({ onClose }) {
  return html`<div class="overlay" data-testid="help" onClick=${onClose}>
    <div class="help" onClick=${(e) => e.stopPropagation()}>
      <h2>Keyboard</h2>
      <table>${SHORTCUTS.map(([k, what]) => html`<tr><td><kbd>${k}</kbd></td><td>${what}</td></tr>`)}</table>
      <p class="muted">Keys do nothing while a text box has focus (Esc leaves it).</p>
    </div>
  </div>`;
}

function App() {
  const route = useRoute();
  const [help, setHelp] = useState(false);
  const [live, setLive] = useState(true);
  const [theme, setTheme] = useState(() => localStorage.getItem('synth-theme') || '');
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem('synth-theme', theme);
  }, [theme]);
  toggleHelp = () => setHelp((v) => !v);
  helpOpen = help;
  const p = route.path;
  let view;
  if (p === '/' || p === '/sessions') view = html`<${SessionsView} query=${route.query} live=${live} />`;
  else if (p.startsWith('/sessions/')) view = html`<${SessionView} id=${decodeURIComponent(p.slice(10))} query=${route.query} />`;
  else if (p === '/compare') view = html`<${CompareView} query=${route.query} />`;
  else if (p === '/stats') view = html`<${StatsView} query=${route.query} />`;
  else if (p === '/sql') view = html`<${SqlView} query=${route.query} />`;
  else view = html`<div class="empty">No view at ${p}. <a href="/" onClick=${follow}>Sessions</a></div>`;
  const nav = (href, label) =>
    html`<a href=${href} onClick=${follow} class=${p === href || (href === '/' && p.startsWith('/sessions')) ? 'on' : ''}>${label}</a>`;
  return html`<div class="app">
    <header>
      <span class="brand">synth-trace</span>
      <nav>${nav('/', 'Sessions')}${nav('/stats', 'Stats')}${nav('/sql', 'SQL')}</nav>
      <span class="grow"></span>
      <button data-testid="live-toggle" class=${live ? 'live on' : 'live'} title="New sessions appear without a reload"
        onClick=${() => setLive(!live)}>${live ? '● Live' : '❚❚ Paused'}</button>
      <button title="Light / dark" onClick=${() => setTheme(theme === 'dark' ? 'light' : theme === 'light' ? '' : 'dark')}>
        ${theme === 'dark' ? 'Dark' : theme === 'light' ? 'Light' : 'Auto'}</button>
      <button title="Keyboard shortcuts (?)" onClick=${() => setHelp(true)}>?</button>
    </header>
    <main>${view}</main>
    ${help && html`<${Help} onClose=${() => setHelp(false)} />`}
  </div>`;
}

installKeys((e) => {
  if (e.key === '?' || (e.key === 'Escape' && helpOpen)) {
    toggleHelp();
    return true;
  }
  if (e.key === '/') {
    const box = document.querySelector('[data-search]');
    if (box) {
      box.focus();
      box.select();
      return true;
    }
  }
  return false;
});

render(html`<${App} />`, document.getElementById('app'));
