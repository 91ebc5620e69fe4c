import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import Value from 'typebox/value';
import { StoreFileSchema, type StoreFile } from './model.js';

/**
 * The stand-in's zones on disk, so that they survive a restart of the lab. Writes go to
 * a temporary file that is then renamed over the old one: a crash leaves either the old
 * or the new contents, never half of a file.
 */
export async function readZoneFile(path: string): Promise<StoreFile | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const parsed: unknown = JSON.parse(text);
  if (!Value.Check(StoreFileSchema, parsed)) {
    const first = [...Value.Errors(StoreFileSchema, parsed)][0] as { instancePath?: string; message?: string } | undefined;
    throw new Error(`${path} is not a Route 53 stand-in file (${first?.instancePath ?? ''} ${first?.message ?? ''})`);
  }
  return parsed;
}

export async function writeZoneFile(path: string, contents: StoreFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(contents)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}
