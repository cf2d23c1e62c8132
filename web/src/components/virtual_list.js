// Renders only the rows in view (plus a margin): 100 k rows scroll as smoothly as 100.
// Rows have a fixed height; `onNearEnd` asks for the next page before the end is reached.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from '../html.js';

export function VirtualList({ count, rowHeight, renderRow, onNearEnd, selected, testid, className, resetKey }) {
  const box = useRef(null);
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(600);
  useEffect(() => {
    const el = box.current;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  // A new list (other filters, a reload) starts at its top.
  useEffect(() => {
    if (box.current) box.current.scrollTop = 0;
    setTop(0);
  }, [resetKey]);
  // Keep the keyboard selection in view.
  useEffect(() => {
    const el = box.current;
    if (selected == null || selected < 0 || !el) return;
    const y = selected * rowHeight;
    if (y < el.scrollTop) el.scrollTop = y;
    else if (y + rowHeight > el.scrollTop + el.clientHeight) el.scrollTop = y + rowHeight - el.clientHeight;
  }, [selected, rowHeight]);
  const first = Math.max(0, Math.floor(top / rowHeight) - 10);
  const last = Math.min(count, Math.ceil((top + height) / rowHeight) + 10);
  useEffect(() => {
    if (onNearEnd && last >= count - 20) onNearEnd();
  }, [last, count]);
  const rows = [];
  for (let i = first; i < last; i++) rows.push(renderRow(i, { position: 'absolute', top: `${i * rowHeight}px`, height: `${rowHeight}px`, left: 0, right: 0 }));
  return html`<div class="vlist ${className || ''}" ref=${box} data-testid=${testid} onScroll=${(e) => setTop(e.currentTarget.scrollTop)}>
    <div style=${{ position: 'relative', height: `${count * rowHeight}px` }}>${rows}</div>
  </div>`;
}
