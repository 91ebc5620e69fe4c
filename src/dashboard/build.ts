import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * Builds the dashboard into dist-dashboard/: the page's TypeScript and CSS bundled and
 * minified under content-hashed names (so the service can let browsers keep them for a
 * year), index.html pointing at them, and a .br and .gz beside every file so the service
 * sends compressed bytes without compressing per request. Prints the compressed weight.
 */
const PAGE = fileURLToPath(new URL('./page/', import.meta.url));
const OUT = fileURLToPath(new URL('../../dist-dashboard/', import.meta.url));
const ASSETS = join(OUT, 'assets');
/** The budget the issue sets for every asset, compressed. */
const BUDGET_BYTES = 150 * 1024;

async function bundle(): Promise<{ script: string; style: string }> {
  const result = await build({
    // The stylesheet is an entry of its own (uPlot's comes in by its @import): TypeScript imports only TypeScript.
    entryPoints: [join(PAGE, 'main.ts'), join(PAGE, 'styles.css')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022'],
    outdir: ASSETS,
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).map((path) => basename(path));
  const script = outputs.find((name) => name.endsWith('.js'));
  const style = outputs.find((name) => name.endsWith('.css'));
  if (!script || !style) throw new Error(`esbuild produced ${outputs.join(', ')}: expected one .js and one .css`);
  return { script, style };
}

async function writeIndex(assets: { script: string; style: string }): Promise<void> {
  const template = await readFile(join(PAGE, 'index.html'), 'utf8');
  const html = template.replace('%STYLE%', `/assets/${assets.style}`).replace('%SCRIPT%', `/assets/${assets.script}`);
  if (html.includes('%')) throw new Error('index.html still holds a placeholder');
  await writeFile(join(OUT, 'index.html'), html);
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : Promise.resolve([join(dir, e.name)]))));
  return nested.flat();
}

/** Writes file.br and file.gz; returns the smaller size, what a browser downloads. */
async function precompress(file: string): Promise<number> {
  const raw = await readFile(file);
  const br = brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length } });
  const gz = gzipSync(raw, { level: 9 });
  await writeFile(`${file}.br`, br);
  await writeFile(`${file}.gz`, gz);
  return Math.min(br.length, gz.length);
}

async function main(): Promise<void> {
  const started = Date.now();
  await rm(OUT, { recursive: true, force: true });
  await mkdir(ASSETS, { recursive: true });
  const assets = await bundle();
  await writeIndex(assets);
  let raw = 0;
  let compressed = 0;
  for (const file of await filesUnder(OUT)) {
    raw += (await stat(file)).size;
    const size = await precompress(file);
    compressed += size;
    console.log(`  ${relative(OUT, file).padEnd(32)} ${String((await stat(file)).size).padStart(8)} B  ${String(size).padStart(7)} B compressed`);
  }
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  console.log(`dashboard: ${kb(raw)} raw, ${kb(compressed)} compressed (budget ${kb(BUDGET_BYTES)}) in ${relative(process.cwd(), OUT) || OUT}, ${Date.now() - started} ms`);
  if (compressed > BUDGET_BYTES) {
    console.error(`dashboard: over the ${kb(BUDGET_BYTES)} budget`);
    process.exitCode = 1;
  }
}

await main();
