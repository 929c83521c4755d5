import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { MountConfig } from '../../src/core/configs';
import type { MountSpec } from '../../src/core/spec';

export interface MountHandle {
  mountPoint: string;
  unmount(): Promise<void>;
}

/** Prepares what fio runs against; mounted fresh for each iteration. */
export interface Mounter {
  mount(config: MountConfig, spec: MountSpec, logDir: string): Promise<MountHandle>;
}

/**
 * The embedded default: a local folder stands in for the gcsfuse mount, so the whole
 * pipeline runs with real fio on one machine without Cloud Storage.
 */
export class LocalDirMounter implements Mounter {
  constructor(private readonly dir: string) {}

  async mount(_config: MountConfig, spec: MountSpec): Promise<MountHandle> {
    if (spec.kind !== 'local-dir') throw new Error(`this agent mounts local folders only, the job asks for ${spec.kind}`);
    const mountPoint = path.resolve(this.dir);
    await fs.mkdir(mountPoint, { recursive: true });
    return { mountPoint, unmount: async () => {} };
  }
}
