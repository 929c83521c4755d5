import type { GcsArtifactStoreOptions } from '../artifacts';
import type { ComputeClientOptions } from '../fleet/gce';

/**
 * Where the Google Cloud APIs are: the real ones by default; an emulator or test server
 * when an endpoint is given (then no Google credentials are looked up at all).
 */
export interface CloudEndpoints {
  /** e.g. http://127.0.0.1:4443 (fake-gcs-server); env GCSFUSE_BENCH_STORAGE_ENDPOINT. */
  storageEndpoint?: string;
  /** e.g. http://127.0.0.1:8089 (a Compute API stand-in); env GCSFUSE_BENCH_COMPUTE_ENDPOINT. */
  computeEndpoint?: string;
}

export function cloudEndpointsFromEnv(env: NodeJS.ProcessEnv = process.env, flags: CloudEndpoints = {}): CloudEndpoints {
  return {
    storageEndpoint: flags.storageEndpoint ?? env.GCSFUSE_BENCH_STORAGE_ENDPOINT,
    computeEndpoint: flags.computeEndpoint ?? env.GCSFUSE_BENCH_COMPUTE_ENDPOINT,
  };
}

export function storageOptions(e: CloudEndpoints): GcsArtifactStoreOptions | undefined {
  return e.storageEndpoint ? { storage: { apiEndpoint: e.storageEndpoint.replace(/\/+$/, '') } } : undefined;
}

export function computeOptions(e: CloudEndpoints): ComputeClientOptions {
  if (!e.computeEndpoint) return {};
  const url = new URL(e.computeEndpoint);
  return {
    apiEndpoint: url.hostname,
    port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
    protocol: url.protocol.replace(':', ''),
    fallback: true,
    // A test endpoint needs no OAuth: an API key header and a fixed project keep the
    // auth library from probing gcloud or the metadata server.
    apiKey: 'gcsfuse-bench-local',
    projectId: 'gcsfuse-bench-local',
  };
}
