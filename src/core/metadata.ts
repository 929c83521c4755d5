/**
 * Reproducibility metadata: the context a result needs to be reproduced or compared (machine,
 * kernel, tool versions, what was mounted how, which exact fio job ran). Collected by the agent
 * (vm-agent/src/metadata.ts) and stored as results/<vm>/test-<matrix-id>/metadata.json.
 * Plain types only, so the orchestrator's report can read it.
 */

import { layout } from './layout';

export const ENTRY_METADATA_SCHEMA = 'gcsfuse-bench/metadata@1' as const;

/** The machine the agent runs on; the same for every entry of an agent's life. */
export interface HostMetadata {
  hostname: string;
  /**
   * Compute Engine machine type (e.g. `n2-standard-8`) from the metadata server; `local` when the
   * agent is not on Compute Engine (or the metadata server did not answer in time).
   */
  machineType: string;
  /** Compute Engine zone (e.g. `us-central1-a`); absent off Compute Engine. */
  zone?: string;
  /** `uname -r`. */
  kernelRelease: string;
  /** PRETTY_NAME of /etc/os-release, when there is one. */
  osRelease?: string;
  arch: string;
  cpuCount: number;
  cpuModel: string;
  memoryTotalBytes: number;
  nodeVersion: string;
  /** `fio --version` (e.g. `fio-3.33`); null when fio could not be run. */
  fioVersion: string | null;
}

/** A gcsfuse binary, described by itself. */
export interface GcsfuseMetadata {
  binary: string;
  /** The first line `gcsfuse --version` printed; null when it could not be run. */
  versionOutput: string | null;
  /**
   * The version gcsfuse reports (`gcsfuse version 3.4.0 (Go version go1.24.0)` gives `3.4.0`).
   * A binary built with `go install` reports `unknown`: moduleVersion then says what it is.
   */
  version: string | null;
  /** The Go toolchain that built it (from the binary's build info, else from --version). */
  goVersion: string | null;
  /** The gcsfuse module version recorded in the binary: a tag (`v3.13.0`) or a pseudo-version. */
  moduleVersion: string | null;
  /** The source commit: vcs.revision of the build info, or the commit a pseudo-version names (12 hex digits). */
  commit: string | null;
  /** Whether the build had uncommitted changes (vcs.modified), when the build info says. */
  modified?: boolean;
  /** SHA-256 of the binary, hex: the exact bits that ran. */
  binarySha256: string | null;
}

/** metadata.json of one matrix entry on one VM. */
export interface EntryMetadata {
  schema: typeof ENTRY_METADATA_SCHEMA;
  benchmarkId: string;
  vm: string;
  matrixId: number;
  testId: string;
  collectedAt: string;
  host: HostMetadata;
  /** Null when a local folder stands in for the mount (no gcsfuse). */
  gcsfuse: GcsfuseMetadata | null;
  mount: {
    kind: 'local-dir' | 'gcsfuse';
    /** The config's label, ref (commit/tag/branch) and mount args as written in the configs CSV. */
    configLabel: string;
    configCommit: string;
    mountArgs: string;
    /** The mount args split into argv words. */
    mountArgv: string[];
    mountPoint: string;
    bucket?: string;
    /** The full argv gcsfuse was started with (our flags included), when known. */
    gcsfuseArgv?: string[];
  };
  /** The rendered fio job that ran (stored as job.fio next to this file). */
  job: { sha256: string; bytes: number };
}

/**
 * The metadata prefetch before fio (the original's timed `ls -R` over the test folder): the whole
 * folder listed recursively, so gcsfuse has the metadata of every object before fio opens them.
 */
export interface MetadataPrefetch {
  /** The folder listed (the test's TEST_DATA_DIR). */
  dir: string;
  /** Wall time of the whole listing, ms. */
  elapsedMs: number;
  /** Entries that are not folders (files, symlinks, ...), in all subfolders. */
  files: number;
  /** Subfolders, at every depth (the folder itself not counted). */
  dirs: number;
}

export const ITERATION_METADATA_SCHEMA = 'gcsfuse-bench/iteration-metadata@1' as const;

/** iteration-<n>.metadata.json: what the agent measured around one fio iteration, besides fio. */
export interface IterationMetadata {
  schema: typeof ITERATION_METADATA_SCHEMA;
  iteration: number;
  metadataPrefetch: MetadataPrefetch;
}

/** Key of iteration-<n>.metadata.json, next to the iteration's fio output. */
export function iterationMetadataKey(benchmarkId: string, vm: string, matrixId: number, iteration: number): string {
  return `${layout.testDir(benchmarkId, vm, matrixId)}/iteration-${iteration}.metadata.json`;
}
