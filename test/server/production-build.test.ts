import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { labServiceConfig, labServiceEnv, operatorHeaders, prepareThroughService } from '../helpers/lab-service.js';
import { startTestLab } from '../helpers/lab.js';
import { ROOT, runNode } from '../helpers/process.js';
import { waitFor } from '../helpers/wait.js';

const exec = promisify(execFile);

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else out.push(path);
  }
  return out;
}

/**
 * The production build exactly as `npm run build` makes it (tsconfig.build.json), into a
 * folder of its own outside the project: what the image's `service` target ships. The
 * compiler also lists every source file in the program, so an import of src/local from
 * anywhere (static, or dynamic with a literal path) shows up here even though the
 * config excludes the folder. Type errors are the type check's business, not this
 * test's: the build emits anyway and they are only reported.
 */
async function productionBuild(t: Test): Promise<{ dir: string; sources: string[]; emitted: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'pgshift-prod-build-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const outDir = join(dir, 'dist');
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  let output: string;
  try {
    output = (await exec(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', outDir, '--listFiles'], { cwd: ROOT, maxBuffer: 64 << 20 })).stdout;
  } catch (err) {
    output = String((err as { stdout?: string }).stdout ?? '');
    t.comment(`the production build reported type errors (emitted anyway):\n${output.split('\n').filter((l) => l.includes('error TS')).join('\n')}`);
  }
  const src = join(ROOT, 'src') + sep;
  const sources = output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(src))
    .map((l) => relative(ROOT, l));
  const emitted = (await filesUnder(outDir)).map((f) => relative(outDir, f));
  // Run it as the image does: its own folder, the project's packages, nothing else of the project.
  await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return { dir, sources, emitted };
}

t.test('the production build contains no lab code and serves the lab\'s clusters without it', async (t) => {
  const build = await productionBuild(t);

  await t.test('no file of src/local is in the production program or its output', async (t) => {
    t.ok(build.sources.includes(join('src', 'server.ts')), 'the build compiles src/server.ts');
    t.ok(build.sources.length > 50, `${build.sources.length} source files`);
    t.same(build.sources.filter((f) => f.startsWith(join('src', 'local') + sep)), [], 'no src/local source');
    t.ok(build.emitted.includes('server.js'), 'dist/server.js is built');
    t.same(build.emitted.filter((f) => f.startsWith(`local${sep}`)), [], 'no dist/local output');
    t.same(build.emitted.filter((f) => f.endsWith('.js') && !build.sources.includes(join('src', f.replace(/\.js$/, '.ts')))), [], 'nothing emitted that the program did not list');
  });

  await t.test('the built service starts on the lab\'s servers and stand-ins, with a plain (non-lab) configuration', async (t) => {
    // The lab runs in this process, as a production service would find real clusters,
    // Route 53 and RDS: the built service gets their addresses through its config only.
    const lab = await startTestLab(t);
    const config = await labServiceConfig(t, {}, 'info');
    const run = runNode([join(build.dir, 'dist', 'server.js'), '--config', config, '--port', '0'], labServiceEnv(lab, 'production-build'), build.dir);
    t.teardown(() => run.child.kill('SIGKILL'));
    const url = String((await run.waitForLog((l) => l.msg === 'pgshift listening', 120_000)).url);
    await waitFor('/readyz to answer 200', async () => (await fetch(`${url}/readyz`)).status === 200, 60_000, 200);
    const fresh = await fetch(`${url}/api/v1/pairs/demo`, { headers: operatorHeaders(lab) });
    t.equal(fresh.status, 200);
    t.equal(((await fresh.json()) as { stage: string }).stage, 'unprepared', 'a pair the service has not prepared yet');
    // Green already follows blue here: prepare adopts it, after checking it.
    await prepareThroughService(url, lab);
    const pair = await fetch(`${url}/api/v1/pairs/demo`, { headers: operatorHeaders(lab) });
    t.equal(((await pair.json()) as { stage: string }).stage, 'baseline');
    t.notMatch(run.stderr(), /embedded lab|operator token/, 'no banner: the production service knows nothing of the lab');
    run.child.kill('SIGTERM');
    t.equal((await run.exited).code, 0, 'stops cleanly on SIGTERM');
  });

  await t.test('the production entry point has nothing to start a lab with', async (t) => {
    t.ok(await stat(join(build.dir, 'dist', 'main.js')));
    const run = runNode([join(build.dir, 'dist', 'server.js'), '--config', join(ROOT, 'config', 'local.yaml')], {}, build.dir);
    t.equal((await run.exited).code, 2);
    t.match(run.stderr(), /lab entry point/);
  });
});
