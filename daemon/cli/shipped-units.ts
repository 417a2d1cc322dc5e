// The systemd units and sysusers.d/tmpfiles.d entries moor ships (units/), and where
// `moor install-units` puts them. The bundle carries them as strings (build.ts defines
// __MOOR_UNITS__ from units/); from source they are read from units/ itself.
import { readFile } from 'node:fs/promises';

declare const __MOOR_UNITS__: Record<string, string> | undefined;

/** units/ file → where it is installed, relative to the prefix (/ by default). */
export const UNIT_TARGETS: Record<string, string> = {
  'moor.service': 'etc/systemd/system/moor.service',
  'moor.socket': 'etc/systemd/system/moor.socket',
  'moor-reconcile.service': 'etc/systemd/system/moor-reconcile.service',
  'moor-reconcile.timer': 'etc/systemd/system/moor-reconcile.timer',
  'sysusers.d/moor.conf': 'etc/sysusers.d/moor.conf',
  'tmpfiles.d/moor.conf': 'etc/tmpfiles.d/moor.conf',
};

export interface ShippedFile {
  source: string;
  target: string;
  content: string;
}

export async function shippedUnits(): Promise<ShippedFile[]> {
  const embedded = typeof __MOOR_UNITS__ === 'undefined' ? undefined : __MOOR_UNITS__;
  const files: ShippedFile[] = [];
  for (const [source, target] of Object.entries(UNIT_TARGETS)) {
    const content = embedded ? embedded[source] : await readFile(new URL(`../../units/${source}`, import.meta.url), 'utf8');
    if (content === undefined) throw new Error(`the bundle lacks units/${source}: rebuild it`);
    files.push({ source, target, content });
  }
  return files;
}
