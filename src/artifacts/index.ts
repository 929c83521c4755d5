import { GcsArtifactStore, type GcsArtifactStoreOptions } from './gcs';
import { LocalArtifactStore } from './local';
import { statSync } from 'node:fs';
import { InputError } from '../core/errors';
import { checkBucketName } from '../core/mount-args';
import type { ArtifactStore } from './store';
import { hasControlChars } from '../core/text';

export type { ArtifactStore } from './store';
export type { GcsArtifactStoreOptions } from './gcs';

/**
 * Opens the artifact store at a location: a local folder, or gs://bucket[/prefix].
 * `gcs` options apply to gs:// locations only (e.g. `{ storage: { apiEndpoint } }` for an emulator;
 * STORAGE_EMULATOR_HOST=http://host:port is honoured as the Storage client reads it).
 */
export function openArtifactStore(location: string, gcs?: GcsArtifactStoreOptions): ArtifactStore {
  if (location.startsWith('gs://')) return new GcsArtifactStore(location, gcs);
  return new LocalArtifactStore(location);
}

/** Refuses an artifact location that cannot work, naming the flag: a malformed gs:// URL, a file, a device. */
export function checkArtifactsLocation(location: string, flag = '--artifacts'): string {
  if (hasControlChars(location) || location.trim() === '')
    throw new InputError(`${JSON.stringify(location)} is not an artifact location`, { flag });
  if (location.startsWith('gs://')) {
    const [bucket = '', ...prefix] = location.slice('gs://'.length).split('/');
    checkBucketName(bucket, { flag });
    const parts = prefix.filter((p, i) => p !== '' || i !== prefix.length - 1);
    if (parts.some((p) => p === '' || p === '.' || p === '..'))
      throw new InputError(`${JSON.stringify(location)}: the prefix after the bucket must be folder names separated by single '/'`, {
        flag,
      });
    return location;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location))
    throw new InputError(`${JSON.stringify(location)} is neither a local folder nor a gs://bucket[/prefix] URL`, { flag });
  let isDir: boolean | undefined;
  try {
    isDir = statSync(location).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new InputError(`${location} cannot be used (${code ?? (err as Error).message})`, { flag });
  }
  if (isDir === false) throw new InputError(`${location} exists and is not a folder`, { flag });
  return location;
}
