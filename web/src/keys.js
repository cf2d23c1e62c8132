// Keyboard shortcuts: one handler per active view, plus global keys (? help, / search). Inactive
// while an input has focus (Esc there leaves the input).
let viewHandler = null;

export function setKeyHandler(fn) {
  viewHandler = fn;
  return () => {
    if (viewHandler === fn) viewHandler = null;
  };
}

export function installKeys(global) {
  window.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const editing = e.target.closest && e.target.closest('input, textarea, select, [contenteditable]');
    if (editing) {
      if (e.key === 'Escape') e.target.blur();
      return;
    }
    if (global(e) || (viewHandler && viewHandler(e))) e.preventDefault();
  });
}

export const SHORTCUTS = [
  ['j / ↓', 'next row or tree node'],
  ['k / ↑', 'previous row or tree node'],
  ['Enter', 'open the selected session, expand a step, show an event'],
  ['Esc', 'close the detail, then back to the list'],
  ['/', 'focus the search box'],
  ['← / →', 'collapse / expand the selected step'],
  ['[ / ]', 'collapse / expand all steps'],
  ['w / s', 'zoom the timeline in / out'],
  ['a / d', 'pan the timeline left / right'],
  ['f', 'fit the timeline (or double-click it; Ctrl+wheel zooms, drag pans)'],
  ['?', 'show or hide this list'],
];
