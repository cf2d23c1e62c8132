// What every browser test shares: a real `synth-trace serve --port 0` on a fresh database,
// seeded through POST /api/v1/sessions; Debian's chromium driven by playwright-core (no browser
// download); screenshots saved for a person to look at.
//   SYNTH_TRACE_BINARY  the synth-trace to run (CTest sets it)
//   SCREENSHOT_DIR      where screenshots go (CTest: <build>/tests/web-screenshots)
//   CHROMIUM            the browser (default /usr/bin/chromium)
// Without chromium the test is skipped (exit 77), except in CI (CI=true), where that fails.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

export const SKIP = 77;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** Starts `synth-trace serve` on a fresh database, or on `db` (kept after stop: benchmarks reuse it). */
export async function startServe(extraArgs = [], { db } = {}) {
  const bin = process.env.SYNTH_TRACE_BINARY;
  if (!bin || !existsSync(bin)) throw new Error(`SYNTH_TRACE_BINARY (${bin}) is not a synth-trace binary: run through ctest`);
  const dir = db ? null : mkdtempSync(join(tmpdir(), 'synth-viewer-test-'));
  const child = spawn(bin, ['--db', db || join(dir, 'traces.duckdb'), 'serve', '--port', '0', '--otlp-port', '0', ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`synth-trace serve printed no address in 30 s: ${stderr}`)), 30000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (m) resolve(m[1]); else reject(new Error(`unexpected first line from synth-trace serve: ${line} ${stderr}`));
    });
    child.once('exit', (code) => reject(new Error(`synth-trace serve exited (${code}): ${stderr}`)));
  });
  lines.on('line', () => {});
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode != null ? r() : child.once('exit', r)));
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Sends sessions (our trace JSON) and waits until they are committed. */
export async function seed(url, sessions, onExisting = 'skip') {
  const res = await fetch(`${url}/api/v1/sessions?wait=commit&on_existing=${onExisting}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(sessions),
  });
  const body = await res.json();
  if (!res.ok || body.rejected.length > 0) throw new Error(`seeding failed (${res.status}): ${JSON.stringify(body)}`);
  return body;
}

export async function launch() {
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing and CI=true: install chromium (scripts/setup.sh)`);
    console.log(`SKIP: ${CHROMIUM} is missing (scripts/setup.sh installs Debian's chromium)`);
    process.exit(SKIP);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--disable-sync'],
  });
}

export async function newPage(browser) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && !/status of 4\d\d/.test(m.text()) && problems.push(`console error: ${m.text()}`));
  page.problems = problems;
  return page;
}

export async function screenshot(page, name) {
  const dir = process.env.SCREENSHOT_DIR || join(tmpdir(), 'synth-viewer-screenshots');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: false });
}

/** Runs a test body with a seeded server and a browser; exits non-zero with the reason on failure. */
export async function run(name, sessions, body) {
  let server;
  let browser;
  let code = 0;
  try {
    browser = await launch();
    server = await startServe();
    if (sessions.length > 0) await seed(server.url, sessions);
    await body({ browser, url: server.url });
    console.log(`PASS ${name}`);
  } catch (e) {
    console.error(`FAIL ${name}: ${e.stack || e}`);
    code = 1;
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (server) await server.stop().catch(() => {});
  }
  process.exit(code);
}
