import type { Bucket, GetFilesOptions, GetFilesResponse, StorageOptions } from '@google-cloud/storage';
import { checkKey, WriteConflictError, type ArtifactStore } from './store';

/**
 * Up to this size an object goes up in one request: resending a few MiB on a retry is cheaper
 * than the extra round trip of a resumable session. Larger objects use a resumable upload, so an
 * interrupted transfer continues from the last byte GCS persisted instead of starting over.
 */
export const RESUMABLE_THRESHOLD_BYTES = 8 * 1024 * 1024;

export interface GcsArtifactStoreOptions {
  /** Passed to the Storage client, e.g. `apiEndpoint` for an emulator. */
  storage?: StorageOptions;
  /** Objects per list request (GCS allows at most 1000); small values exercise pagination in tests. */
  listPageSize?: number;
}

/** Parses gs://bucket[/prefix] into a bucket name and a prefix without slashes at either end. */
export function parseGsUrl(location: string): { bucket: string; prefix: string } {
  const m = /^gs:\/\/([^/]+)\/?(.*)$/.exec(location);
  if (!m) throw new Error(`invalid GCS location ${JSON.stringify(location)}: expected gs://bucket[/prefix]`);
  const prefix = m[2]!.replace(/^\/+|\/+$/g, '');
  if (prefix !== '') checkKey(prefix);
  return { bucket: m[1]!, prefix };
}

/** The HTTP status of a client error: JSON API errors carry it in `code`, resumable-session errors in `status`. */
function httpCode(err: unknown): number | undefined {
  const e = err as { code?: unknown; status?: unknown; response?: { status?: unknown } } | null;
  return [e?.code, e?.status, e?.response?.status].find((x): x is number => typeof x === 'number');
}

function setEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

/** Artifacts in a GCS bucket, under an optional prefix: the cloud implementation. */
export class GcsArtifactStore implements ArtifactStore {
  readonly bucketName: string;
  readonly prefix: string;
  private readonly options: GcsArtifactStoreOptions;
  /** STORAGE_EMULATOR_HOST as it was when the store was opened (the client used to be built then). */
  private readonly emulatorHost: string | undefined;
  private bucketP?: Promise<Bucket>;
  private readonly pageSize: number;
  private bucketChecked = false;

  constructor(location: string, options: GcsArtifactStoreOptions = {}) {
    ({ bucket: this.bucketName, prefix: this.prefix } = parseGsUrl(location));
    this.pageSize = options.listPageSize ?? 1000;
    this.options = options;
    this.emulatorHost = process.env.STORAGE_EMULATOR_HOST;
  }

  /**
   * The client is made at first use: importing @google-cloud/storage costs ~22 MiB and ~0.6 s,
   * which a process whose store is a local folder, or that never touches it, should not pay.
   */
  private get bucket(): Promise<Bucket> {
    this.bucketP ??= import('@google-cloud/storage').then(({ IdempotencyStrategy, Storage }) => {
      const options = this.options;
      const envHost = process.env.STORAGE_EMULATOR_HOST;
      setEnv('STORAGE_EMULATOR_HOST', this.emulatorHost); // the client reads it when built: as at open time
      try {
        const storage = new Storage({
          ...options.storage,
          retryOptions: {
            // The default (RetryConditional) retries a write only when it carries a precondition,
            // and does so by toggling autoRetry on the shared client, which races between concurrent
            // calls. Every write here is safe to repeat: putOnce carries ifGenerationMatch=0, and a
            // repeat of a write that had landed gets 412, which putOnce resolves by comparing bytes;
            // put rewrites the same bytes whole. So retry always.
            idempotencyStrategy: IdempotencyStrategy.RetryAlways,
            // Bounded so a client retry loop stays well inside an activity's timeout; Temporal retries
            // the activity for longer outages. Default retryableErrorFn: 408/429/5xx, resets, DNS.
            maxRetries: 5,
            maxRetryDelay: 16,
            totalTimeout: 120,
            ...options.storage?.retryOptions,
          },
        });
        // With STORAGE_EMULATOR_HOST set, this client uses the variable verbatim as the JSON API base
        // (no /storage/v1) while uploads use apiEndpoint: no single value serves both. Re-derive it.
        if (this.emulatorHost !== undefined) storage.baseUrl = `${storage.apiEndpoint}/storage/v1`;
        return storage.bucket(this.bucketName);
      } finally {
        setEnv('STORAGE_EMULATOR_HOST', envHost);
      }
    });
    return this.bucketP;
  }

  private name(key: string): string {
    checkKey(key);
    return this.prefix === '' ? key : `${this.prefix}/${key}`;
  }

  urlOf(key: string): string {
    return `gs://${this.bucketName}/${this.name(key)}`;
  }

  /**
   * GCS (and the emulator) answer 404 alike for a missing object and a missing bucket. On a 404,
   * probe the bucket once with a one-object list (needs only storage.objects.list, which any
   * reader of the artifacts has) and turn a missing bucket into a message that names it.
   */
  private async explain404(err: unknown): Promise<void> {
    if (httpCode(err) !== 404 || this.bucketChecked) return;
    try {
      await (await this.bucket).getFiles({ maxResults: 1, autoPaginate: false });
      this.bucketChecked = true;
    } catch (probeErr) {
      if (httpCode(probeErr) === 404) throw new Error(`artifact bucket gs://${this.bucketName} does not exist`, { cause: probeErr });
      throw probeErr;
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      const [data] = await (await this.bucket).file(this.name(key)).download();
      return data;
    } catch (err) {
      await this.explain404(err);
      if (httpCode(err) === 404) return undefined;
      throw err;
    }
  }

  private async write(key: string, data: Buffer | string, ifGenerationMatch?: number): Promise<void> {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
    try {
      await (await this.bucket).file(this.name(key)).save(buf, {
        resumable: buf.length > RESUMABLE_THRESHOLD_BYTES,
        contentType: 'application/octet-stream',
        ...(ifGenerationMatch === undefined ? {} : { preconditionOpts: { ifGenerationMatch } }),
      });
    } catch (err) {
      await this.explain404(err);
      throw err;
    }
  }

  async putOnce(key: string, data: Buffer | string): Promise<'created' | 'unchanged'> {
    try {
      await this.write(key, data, 0); // generation 0: create only if no live object exists
      return 'created';
    } catch (err) {
      if (httpCode(err) !== 412) throw err;
      const existing = await this.get(key);
      if (existing?.equals(Buffer.isBuffer(data) ? data : Buffer.from(data))) return 'unchanged';
      throw new WriteConflictError(key, this.urlOf(key));
    }
  }

  async put(key: string, data: Buffer | string): Promise<void> {
    await this.write(key, data); // a GCS object write is atomic: readers see one generation or the other
  }

  async list(prefix: string): Promise<string[]> {
    const base = this.prefix === '' ? '' : `${this.prefix}/`;
    const out: string[] = [];
    let query: GetFilesOptions | null = { prefix: base + prefix, maxResults: this.pageSize, autoPaginate: false };
    try {
      // Explicit pages: with autoPaginate, maxResults would cap the total rather than the page.
      while (query) {
        const [files, next]: GetFilesResponse = await (await this.bucket).getFiles(query);
        for (const f of files) out.push(f.name.slice(base.length));
        const page = next as GetFilesOptions | null; // typed `{}` by the library: the next query, or null
        query = page?.pageToken ? page : null;
      }
    } catch (err) {
      await this.explain404(err);
      throw err;
    }
    return out.sort();
  }
}
