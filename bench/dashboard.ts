/**
 * The dashboard's weight and time to first render on the lab: real PostgreSQL 13 and 14
 * with green prepared, pgshift in this process (main.ts's wiring), the page in Debian's
 * Chromium through playwright-core, as the browser tests drive it.
 *
 * Weight: every response the browser asked for while loading the signed-in pairs page
 * and the pair page, as the service sends it to a browser that takes brotli and as
 * decoded; the page's own assets apart from the API's answers. Time to first render, over `runs` signed-in reloads each: the
 * pairs table drawn (the page's `pgshift:pairs-rendered` mark) and the pair page drawn
 * (`pgshift:pair-rendered`), in ms after navigation started, with the browser's first
 * contentful paint beside them. The browser's cache is off, so every run downloads the
 * assets again, as a first visit does.
 *
 * Usage: node --import tsx bench/dashboard.ts [--runs 20]; JSON on stdout, progress on stderr.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page, type Request } from 'playwright-core';
import { Lab } from '../src/local/lab.js';
import { createLogger } from '../src/log.js';
import { startService } from '../src/main.js';
import { CHROMIUM } from '../test/helpers/browser.js';
import { labServiceConfigText, labServiceEnv, prepareThroughService } from '../test/helpers/lab-service.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const runs = Number(arg('runs', '20'));

interface Transfer {
  path: string;
  sentBytes: number;
  decodedBytes: number;
}

/** The body's size as the service sends it with this accept-encoding (undici's fetch would decode it, so raw HTTP). */
function bodyBytes(url: string, encoding: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, { headers: { 'accept-encoding': encoding, authorization: `Bearer ${token}` } }, (res) => {
      let n = 0;
      res.on('data', (chunk: Buffer) => (n += chunk.length));
      res.on('end', () => resolve(n));
      res.on('error', reject);
    }).on('error', reject);
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? null : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const summary = (xs: number[]) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: xs.length });

/**
 * What loading `url` fetched, each response weighed as a browser that takes brotli gets
 * it and decoded. The event stream never ends and is left out.
 */
async function weigh(page: Page, url: string, ready: string, token: string): Promise<{ assets: Transfer[]; api: Transfer[] }> {
  const urls = new Set<string>();
  const onRequest = (request: Request) => {
    if (request.resourceType() !== 'eventsource') urls.add(request.url());
  };
  page.on('request', onRequest);
  // From a blank page: the pair page's URL differs from the pairs page's only in its hash, which alone would not load anything.
  await page.goto('about:blank');
  await page.goto(url);
  await page.locator(ready).first().waitFor({ timeout: 60_000 });
  page.off('request', onRequest);
  const transfers = await Promise.all(
    [...urls].map(async (u) => ({ path: new URL(u).pathname + new URL(u).search, sentBytes: await bodyBytes(u, 'br, gzip', token), decodedBytes: await bodyBytes(u, 'identity', token) })),
  );
  const isApi = (t: Transfer) => t.path.startsWith('/api/');
  return { assets: transfers.filter((t) => !isApi(t)), api: transfers.filter(isApi) };
}

async function renderTimes(page: Page, url: string, mark: string): Promise<{ drawn: number; fcp: number | null }> {
  await page.goto('about:blank');
  await page.goto(url);
  const drawn = await page.waitForFunction((name) => performance.getEntriesByName(name)[0]?.startTime ?? null, mark, { timeout: 60_000 });
  const fcp = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null);
  return { drawn: Math.round((await drawn.jsonValue()) as number), fcp: fcp === null ? null : Math.round(fcp) };
}

async function main(): Promise<void> {
  const machine = { cores: cpus().length, cpu: cpus()[0]?.model ?? null, loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100) };
  const dir = await mkdtemp(join(tmpdir(), 'pgshift-bench-dashboard-'));
  await chmod(dir, 0o755);
  const lab = await Lab.start({ dir, log: createLogger({ level: 'silent' }) });
  const configPath = join(dir, 'pgshift.yaml');
  await writeFile(configPath, await labServiceConfigText({ bakeSeconds: 0 }));
  const service = await startService({ configPath, env: labServiceEnv(lab, 'bench') });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    await prepareThroughService(service.url, lab);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    // Every run loads the assets again, as a first visit does.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    await page.goto(service.url);
    await page.getByLabel('API token').fill(lab.state.secrets.operatorToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('tr[data-pair="demo"]').waitFor({ timeout: 60_000 });

    const pairsUrl = service.url + '/';
    const pairUrl = `${service.url}/#/pairs/demo`;
    const token = lab.state.secrets.operatorToken;
    const pairsWeight = await weigh(page, pairsUrl, 'tr[data-pair="demo"]', token);
    const pairWeight = await weigh(page, pairUrl, '.actions button', token);
    const total = (ts: Transfer[], key: 'sentBytes' | 'decodedBytes') => ts.reduce((sum, t) => sum + t[key], 0);

    const pairsTimes: { drawn: number; fcp: number | null }[] = [];
    const pairTimes: { drawn: number; fcp: number | null }[] = [];
    for (let i = 0; i < runs; i++) {
      pairsTimes.push(await renderTimes(page, pairsUrl, 'pgshift:pairs-rendered'));
      pairTimes.push(await renderTimes(page, pairUrl, 'pgshift:pair-rendered'));
      process.stderr.write(`run ${i + 1}/${runs}: pairs ${pairsTimes.at(-1)!.drawn} ms, pair ${pairTimes.at(-1)!.drawn} ms\n`);
    }
    const fcps = (xs: { fcp: number | null }[]) => xs.map((x) => x.fcp).filter((x): x is number => x !== null);
    process.stdout.write(
      `${JSON.stringify(
        {
          bench: 'dashboard',
          machine: { ...machine, loadAverageAtEnd: loadavg().map((l) => Math.round(l * 100) / 100) },
          chromium: browser.version(),
          weight: {
            assets: pairsWeight.assets,
            assetsSentBytes: total(pairsWeight.assets, 'sentBytes'),
            assetsDecodedBytes: total(pairsWeight.assets, 'decodedBytes'),
            pairsPageApi: { requests: pairsWeight.api.length, sentBytes: total(pairsWeight.api, 'sentBytes') },
            pairPageApi: { requests: pairWeight.api.length, sentBytes: total(pairWeight.api, 'sentBytes'), paths: pairWeight.api.map((t) => t.path) },
          },
          firstRenderMs: {
            pairsTable: summary(pairsTimes.map((x) => x.drawn)),
            pairsFirstContentfulPaint: summary(fcps(pairsTimes)),
            pairPage: summary(pairTimes.map((x) => x.drawn)),
            pairFirstContentfulPaint: summary(fcps(pairTimes)),
          },
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await browser.close();
    await service.close();
    await lab.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
