import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, posix, relative, sep } from 'node:path';
import ts from 'typescript';
import { ROOT } from './helpers/process.js';

/**
 * The import graph of src/ as the compiler sees it (`ts.preProcessFile`: static imports,
 * `import type`, `export ... from`, dynamic `import('...')` with a literal), checked
 * against the layering in DESIGN.md and STYLE.md. Each rule lists every violation as
 * `file -> import`, so a failure says what to move.
 */

interface ImportEdge {
  /** The importing file, relative to the project, with forward slashes: `src/shift/controller.ts`. */
  from: string;
  /** As written: `../store/pg-store.js`, `pg`, `node:fs`. */
  specifier: string;
  /** Our file it resolves to (`src/store/pg-store.ts`); undefined for a package or builtin. */
  to: string | undefined;
}

const SRC = join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mts|tsx)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const project = (path: string) => relative(ROOT, path).split(sep).join('/');

function resolveOurs(fromFile: string, specifier: string, known: Set<string>): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = posix.normalize(posix.join(posix.dirname(fromFile), specifier));
  const stem = base.replace(/\.(m?js|tsx?)$/, '');
  for (const candidate of [`${stem}.ts`, `${stem}.mts`, `${stem}.tsx`, `${base}/index.ts`]) if (known.has(candidate)) return candidate;
  return `${stem}.ts (missing)`;
}

function importGraph(): ImportEdge[] {
  const files = sourceFiles(SRC).map(project);
  const known = new Set(files);
  const edges: ImportEdge[] = [];
  for (const file of files) {
    const info = ts.preProcessFile(readFileSync(join(ROOT, file), 'utf8'), true, true);
    for (const imported of info.importedFiles) {
      edges.push({ from: file, specifier: imported.fileName, to: resolveOurs(file, imported.fileName, known) });
    }
  }
  return edges;
}

const edges = importGraph();
const under = (file: string | undefined, folder: string) => file !== undefined && file.startsWith(`${folder}/`);
const show = (e: ImportEdge) => `${e.from} -> ${e.specifier}`;
const isBuiltin = (specifier: string) => specifier.startsWith('node:') || builtinModules.includes(specifier);

/** Strongly connected components of more than one file (or a file importing itself): the cycles. */
function cycles(edges: readonly ImportEdge[]): string[][] {
  const graph = new Map<string, Set<string>>();
  for (const e of edges) {
    if (!graph.has(e.from)) graph.set(e.from, new Set());
    if (e.to && !e.to.endsWith('(missing)')) graph.get(e.from)!.add(e.to);
  }
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    indexOf.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indexOf.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indexOf.get(w)!));
      }
    }
    if (low.get(v) === indexOf.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)?.has(v)) found.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!indexOf.has(v)) visit(v);
  return found;
}

/** Each cycle: its files and the imports between them. */
function cycleViolations(edges: readonly ImportEdge[]): { files: string[]; imports: string[] }[] {
  return cycles(edges).map((component) => {
    const members = new Set(component);
    const inside = edges.filter((e) => members.has(e.from) && e.to !== undefined && members.has(e.to)).map(show);
    return { files: component, imports: inside };
  });
}

const SHIFT_MAY_IMPORT = new Set(['src/clock.ts', 'src/errors.ts', 'src/log.ts', 'src/defaults.ts']);
const shiftMayImportPackage = (s: string) => s === 'typebox' || s.startsWith('typebox/') || isBuiltin(s);

/** src/shift imports only its own files, clock, errors, log, defaults, typebox and node builtins. */
function shiftViolations(edges: readonly ImportEdge[]): string[] {
  return edges
    .filter((e) => under(e.from, 'src/shift'))
    .filter((e) => (e.to === undefined ? !shiftMayImportPackage(e.specifier) : !under(e.to, 'src/shift') && !SHIFT_MAY_IMPORT.has(e.to)))
    .map(show);
}

const labViolations = (edges: readonly ImportEdge[]) => edges.filter((e) => !under(e.from, 'src/local') && under(e.to, 'src/local')).map(show);
const storeViolations = (edges: readonly ImportEdge[]) => edges.filter((e) => under(e.from, 'src/store') && under(e.to, 'src/api')).map(show);
const metricsViolations = (edges: readonly ImportEdge[]) => edges.filter((e) => under(e.from, 'src/metrics') && e.to !== undefined).map(show);

t.test('the checks find what they look for (a made-up graph)', async (t) => {
  const edge = (from: string, specifier: string, to?: string): ImportEdge => ({ from, specifier, to });
  const made = [
    edge('src/cli/a.ts', './b.js', 'src/cli/b.ts'),
    edge('src/cli/b.ts', './a.js', 'src/cli/a.ts'),
    edge('src/shift/x.ts', 'pg'),
    edge('src/shift/x.ts', '../store/pg-store.js', 'src/store/pg-store.ts'),
    edge('src/shift/x.ts', 'node:events'),
    edge('src/shift/x.ts', '../clock.js', 'src/clock.ts'),
    edge('src/main.ts', './local/lab.js', 'src/local/lab.ts'),
    edge('src/store/s.ts', '../api/schemas.js', 'src/api/schemas.ts'),
  ];
  t.same(cycleViolations(made), [{ files: ['src/cli/a.ts', 'src/cli/b.ts'], imports: ['src/cli/a.ts -> ./b.js', 'src/cli/b.ts -> ./a.js'] }]);
  t.same(shiftViolations(made), ['src/shift/x.ts -> pg', 'src/shift/x.ts -> ../store/pg-store.js']);
  t.same(labViolations(made), ['src/main.ts -> ./local/lab.js']);
  t.same(storeViolations(made), ['src/store/s.ts -> ../api/schemas.js']);
});

t.test('the import graph was read', async (t) => {
  t.ok(edges.some((e) => e.from === 'src/server.ts' && e.to === 'src/main.ts'), 'src/server.ts imports src/main.ts');
  t.same(edges.filter((e) => e.to?.endsWith('(missing)')).map(show), [], 'every relative import resolves to a file of src/');
});

t.test('src/ has no import cycles (type-only imports count too)', async (t) => {
  t.same(cycleViolations(edges), [], 'each cycle with the imports that close it');
});

t.test('src/shift imports only its own files, clock, errors, log, defaults, typebox and node builtins', async (t) => {
  t.same(shiftViolations(edges), [], 'no SDK, pg, fastify, store, traffic, signals, replication, clusters, api, ...');
});

t.test('nothing outside src/local imports src/local (the production build leaves it out)', async (t) => {
  t.same(labViolations(edges), []);
});

t.test('src/store imports nothing from src/api', async (t) => {
  t.same(storeViolations(edges), []);
});

t.test('src/metrics is a leaf: it imports nothing of ours', async (t) => {
  t.same(metricsViolations(edges), []);
});
