import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { MountConfig } from '../../src/core/configs';
import type { MountSpec } from '../../src/core/spec';

export interface MountHandle {
  mountPoint: string;
  unmount(): Promise<void>;
  /** Called on the test's data folder before fio: lets a FUSE mount load its metadata first. */
  prepareDir?(dir: string): Promise<void>;
  /** Local log files of the mount (gcsfuse's), kept with the results after unmount. */
  logFiles?: string[];
  /** Pid of the file system process, for resource monitoring. */
  pid?: number;
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

/** Picks the mounter for what the job spec asks: a local folder or gcsfuse. */
export class SpecMounter implements Mounter {
  constructor(private readonly byKind: Partial<Record<MountSpec['kind'], Mounter>>) {}

  mount(config: MountConfig, spec: MountSpec, logDir: string): Promise<MountHandle> {
    const mounter = this.byKind[spec.kind];
    if (!mounter) throw new Error(`this agent cannot mount ${spec.kind}: it was started without support for it`);
    return mounter.mount(config, spec, logDir);
  }
}
