// Scrolling the sessions list far down, measured in the page: shared by the many-sessions test
// and the 100 k benchmark. Every frame's time comes from requestAnimationFrame, every keyset page
// fetch's time from the browser's resource timing (no playwright round trips in either).

/** Starts recording frame times and API request timings in the page. */
export async function startRecording(page) {
  await page.evaluate(() => {
    performance.setResourceTimingBufferSize(100000);
    window.synthFrames = [];
    let last = performance.now();
    const tick = (t) => {
      if (!window.synthFrames) return;  // stopped by scrollSessionsTo
      window.synthFrames.push(t - last);
      last = t;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
}

/**
 * Scrolls the sessions list down, as a user dragging to the end would, until row `target`
 * (0-based) is loaded, then shows it. Returns the rows loaded, the time taken, the frames and
 * the keyset page fetches (ms) meanwhile.
 */
export async function scrollSessionsTo(page, target, timeoutMs = 600000) {
  await startRecording(page);
  return page.evaluate(async ({ target, timeoutMs }) => {
    const list = document.querySelector('[data-testid=sessions-list]');
    const loaded = () => Number(document.querySelector('[data-testid=list-status]').textContent.split(' ')[0]);
    const more = () => document.querySelector('[data-testid=list-status]').textContent.includes('more as you scroll');
    const frame = () => new Promise((r) => requestAnimationFrame(r));
    const t0 = performance.now();
    let maxDom = 0;
    while (loaded() <= target && more()) {
      if (performance.now() - t0 > timeoutMs) throw new Error(`only ${loaded()} rows after ${timeoutMs} ms`);
      list.scrollTop = list.scrollHeight;
      await frame();
      maxDom = Math.max(maxDom, list.querySelectorAll('[data-testid=session-row]').length);
    }
    const rowHeight = list.firstElementChild.offsetHeight / loaded();
    list.scrollTop = Math.min(target, loaded() - 1) * rowHeight;
    await frame();
    await frame();
    const elapsed = performance.now() - t0;
    maxDom = Math.max(maxDom, list.querySelectorAll('[data-testid=session-row]').length);
    const frames = window.synthFrames;
    window.synthFrames = null;
    const fetches = performance.getEntriesByType('resource')
      .filter((e) => e.name.includes('/api/v1/sessions?') && e.name.includes('cursor='))
      .map((e) => ({ total: e.duration, waiting: e.responseStart - e.requestStart }));
    return { loaded: loaded(), elapsed, maxDom, frames, fetches };
  }, { target, timeoutMs });
}

/** Median, 95th percentile and maximum of a list of numbers. */
export function summary(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q) => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN);
  return { n: s.length, median: at(0.5), p95: at(0.95), max: s.length ? s[s.length - 1] : NaN };
}
