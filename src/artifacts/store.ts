/**
 * Where a benchmark's inputs, job specs, fio outputs, manifests and reports live.
 * One interface, two implementations: a local folder (embedded default) and GCS.
 */
export interface ArtifactStore {
  /** Human-readable location of a key, for messages and reports (a path or gs:// URL). */
  urlOf(key: string): string;
  get(key: string): Promise<Buffer | undefined>;
  /**
   * Writes an object that must never change once written. Writing the same bytes
   * again succeeds ('unchanged'), so a retried activity is harmless; different bytes
   * throw WriteConflictError, so two writers can never clobber each other.
   */
  putOnce(key: string, data: Buffer | string): Promise<'created' | 'unchanged'>;
  /** Replaces an object atomically (readers see the old or the new bytes, never a mix). */
  put(key: string, data: Buffer | string): Promise<void>;
  /** Keys under a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
}

// Defined in src/core so the failure mapping (src/shared/failures.ts) knows it without depending on the stores.
export { WriteConflictError } from '../core/errors';

export function checkKey(key: string): string {
  if (key === '' || key.startsWith('/') || key.split('/').some((s) => s === '..' || s === '.' || s === '')) {
    throw new Error(`invalid artifact key ${JSON.stringify(key)}`);
  }
  return key;
}

export async function getJson<T>(store: ArtifactStore, key: string): Promise<T | undefined> {
  const buf = await store.get(key);
  return buf === undefined ? undefined : (JSON.parse(buf.toString('utf8')) as T);
}

export { toJson } from '../core/json';
