/**
 * Reproducibility metadata on the agent: what a result needs to be reproduced (machine type,
 * kernel, CPU, memory, fio and gcsfuse versions, mount args, the exact fio job).
 *
 * - Host metadata is collected once per agent (cached), gcsfuse metadata once per binary; the
 *   per-entry part (mount, job hash) is cheap.
 * - The machine type comes from the Compute Engine metadata server with a short overall timeout.
 *   Off Compute Engine its host name does not resolve, so the answer is `local` within
 *   milliseconds; the fetch is injectable so tests never need the network.
 * - gcsfuse's commit: `gcsfuse --version` of a binary built with `go install` says `unknown`, so we
 *   also read the Go build info the linker embeds in every Go binary (what `go version -m` prints):
 *   the module version (a tag, or a pseudo-version that names the commit) and vcs.revision. Read
 *   from the file itself, so the VM needs no Go toolchain.
 * - Nothing here throws for a missing tool: a field it could not learn is null.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as dns } from 'node:dns';
import { createReadStream, promises as fs } from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';
import type { MountConfig } from '../../src/core/configs';
import {
  ENTRY_METADATA_SCHEMA,
  ITERATION_METADATA_SCHEMA,
  type EntryMetadata,
  type IterationMetadata,
  type MetadataPrefetch,
  type GcsfuseMetadata,
  type HostMetadata,
} from '../../src/core/metadata';
import type { MountSpec } from '../../src/core/spec';
import type { MountHandle } from './mounter';

/** SHA-256 of a text or bytes, hex. The rendered job is hashed as the UTF-8 bytes that were stored. */
export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Running tools
// ---------------------------------------------------------------------------------------------

function runTool(cmd: string, args: string[], timeoutMs = 10_000): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && !stdout) return resolve(null);
      resolve(`${stdout}${stdout ? '' : stderr}`);
    });
  });
}

const firstLine = (text: string | null): string | null => text?.trim().split('\n', 1)[0]?.trim() || null;

/** `fio --version` (e.g. `fio-3.33`); null when fio could not be run. */
export async function fioVersion(fioBin = process.env.FIO_BIN ?? 'fio'): Promise<string | null> {
  return firstLine(await runTool(fioBin, ['--version']));
}

/** `gcsfuse version 3.4.0 (Go version go1.24.0)` -> version and Go version. */
export function parseGcsfuseVersion(output: string): { version: string | null; goVersion: string | null } {
  const m = /gcsfuse version\s+(\S+)(?:.*?\(Go version\s+([^)\s]+)\))?/i.exec(output);
  return { version: m?.[1] ?? null, goVersion: m?.[2] ?? null };
}

// ---------------------------------------------------------------------------------------------
// Go build info (what `go version -m` prints), read from the binary
// ---------------------------------------------------------------------------------------------

export interface GoBuildInfo {
  goVersion: string;
  /** The main package's path. */
  path: string | null;
  /** The main module and its version: a tag, a pseudo-version, or `(devel)` for a local build. */
  mainModule: { path: string; version: string } | null;
  /** `build` settings: vcs.revision, vcs.time, vcs.modified, -ldflags, GOOS, ... */
  settings: Record<string, string>;
}

const BUILDINFO_MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
/** Enough bytes after the magic for the version and module strings (gcsfuse's are ~15 KB). */
const BUILDINFO_KEEP = 1024 * 1024;

function readUvarint(buf: Buffer, pos: number): [value: number, next: number] | null {
  let value = 0;
  let shift = 0;
  for (let i = pos; i < buf.length && i < pos + 10; i++) {
    const b = buf[i]!;
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, i + 1];
    shift += 7;
  }
  return null;
}

/**
 * Parses the build info blob starting at its magic (Go 1.18+ layout: 14-byte magic, pointer size,
 * flags; with flag 2 the version and module strings follow inline at offset 32, each prefixed with
 * its length as a uvarint). Older layouts (pointers into the binary) give null.
 */
export function parseGoBuildInfoBlob(blob: Buffer): GoBuildInfo | null {
  if (blob.length < 33 || !blob.subarray(0, BUILDINFO_MAGIC.length).equals(BUILDINFO_MAGIC)) return null;
  const flags = blob[15]!;
  if ((flags & 0x2) === 0) return null;
  const readString = (pos: number): [string, number] | null => {
    const v = readUvarint(blob, pos);
    if (!v || v[1] + v[0] > blob.length) return null;
    return [blob.subarray(v[1], v[1] + v[0]).toString('utf8'), v[1] + v[0]];
  };
  const version = readString(32);
  if (!version) return null;
  const mod = readString(version[1]);
  let modinfo = mod?.[0] ?? '';
  // The module string is framed by 16-byte sentinels (as runtime/debug strips them).
  if (modinfo.length >= 33 && modinfo[modinfo.length - 17] === '\n') modinfo = modinfo.slice(16, -16);
  return { goVersion: version[0], ...parseModInfo(modinfo) };
}

/** The text form of runtime/debug.BuildInfo: tab-separated `path`, `mod`, `dep`, `=>`, `build` lines. */
export function parseModInfo(text: string): Omit<GoBuildInfo, 'goVersion'> {
  const out: Omit<GoBuildInfo, 'goVersion'> = { path: null, mainModule: null, settings: {} };
  for (const line of text.split('\n')) {
    const [kind, ...f] = line.split('\t');
    if (kind === 'path' && f[0]) out.path = f[0];
    else if (kind === 'mod' && f[0]) out.mainModule = { path: f[0], version: f[1] ?? '' };
    else if (kind === 'build' && f[0]) {
      const kv = f.join('\t');
      const eq = kv.indexOf('=');
      if (eq > 0) out.settings[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
  }
  return out;
}

/** The commit a Go pseudo-version names (`v0.0.0-20240102150405-abcdef123456` -> `abcdef123456`). */
export function commitOfPseudoVersion(version: string): string | null {
  // The three forms: vX.0.0-<time>-<hash>, vX.Y.Z-pre.0.<time>-<hash>, vX.Y.(Z+1)-0.<time>-<hash>.
  return /^v\d+\.\d+\.\d+-(?:.*[.])?\d{14}-([0-9a-f]{12})(?:\+[0-9A-Za-z.-]+)?$/.exec(version)?.[1] ?? null;
}

/** Reads a file once: its SHA-256 and its Go build info (null when it is not a Go 1.18+ binary). */
export async function inspectBinary(file: string): Promise<{ sha256: string; buildInfo: GoBuildInfo | null }> {
  const hash = createHash('sha256');
  let tail = Buffer.alloc(0);
  let blob: Buffer | null = null;
  const stream = createReadStream(file, { highWaterMark: 1024 * 1024 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    if (blob) {
      if (blob.length < BUILDINFO_KEEP) blob = Buffer.concat([blob, chunk]).subarray(0, BUILDINFO_KEEP);
      continue;
    }
    const window = Buffer.concat([tail, chunk]);
    const at = window.indexOf(BUILDINFO_MAGIC);
    if (at >= 0) blob = window.subarray(at, at + BUILDINFO_KEEP);
    else tail = window.subarray(Math.max(0, window.length - BUILDINFO_MAGIC.length + 1));
  }
  return { sha256: hash.digest('hex'), buildInfo: blob ? parseGoBuildInfoBlob(Buffer.from(blob)) : null };
}

/** gcsfuse's version, Go version, module version and commit, from `--version` and the binary itself. */
export async function gcsfuseMetadata(binary: string): Promise<GcsfuseMetadata> {
  const [output, inspected] = await Promise.all([runTool(binary, ['--version']), inspectBinary(binary).catch(() => null)]);
  const versionOutput = firstLine(output);
  const parsed = parseGcsfuseVersion(versionOutput ?? '');
  const info = inspected?.buildInfo ?? null;
  const moduleVersion = info?.mainModule?.version || null;
  const revision = info?.settings['vcs.revision'] ?? null;
  const meta: GcsfuseMetadata = {
    binary,
    versionOutput,
    version: parsed.version,
    goVersion: info?.goVersion ?? parsed.goVersion,
    moduleVersion,
    commit: revision ?? (moduleVersion ? commitOfPseudoVersion(moduleVersion) : null),
    binarySha256: inspected?.sha256 ?? null,
  };
  if (info?.settings['vcs.modified'] !== undefined) meta.modified = info.settings['vcs.modified'] === 'true';
  return meta;
}

// ---------------------------------------------------------------------------------------------
// Compute Engine metadata server
// ---------------------------------------------------------------------------------------------

/** The subset of fetch the metadata lookup uses; tests inject their own. */
export type MetadataFetch = (
  url: string,
  init: { headers: Record<string, string>; signal: AbortSignal },
) => Promise<{ ok: boolean; status: number; headers: { get(name: string): string | null }; text(): Promise<string> }>;

export interface GceLookupOptions {
  /** host[:port] of the metadata server: GCE_METADATA_HOST, else metadata.google.internal. */
  host?: string;
  /** Replaces fetch (and the DNS check before it). */
  fetch?: MetadataFetch;
  /** Longest the whole lookup may take; 2 s by default. */
  timeoutMs?: number;
}

export const DEFAULT_METADATA_HOST = 'metadata.google.internal';

/**
 * Machine type and zone from the metadata server; `{ machineType: 'local' }` when it does not
 * answer (not on Compute Engine) within the timeout. With the default fetch, a host name that does
 * not resolve ends the lookup at once; the reply must carry `Metadata-Flavor: Google`, so a proxy or
 * captive portal answering for any host is not taken for the metadata server.
 */
export async function gceMachineInfo(opts: GceLookupOptions = {}): Promise<{ machineType: string; zone?: string }> {
  const host = opts.host ?? process.env.GCE_METADATA_HOST ?? DEFAULT_METADATA_HOST;
  const timeoutMs = opts.timeoutMs ?? 2_000;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error('metadata server timeout')), timeoutMs);
  timer.unref();
  const local = { machineType: 'local' };
  try {
    const doFetch: MetadataFetch = opts.fetch ?? (globalThis.fetch as unknown as MetadataFetch);
    if (!opts.fetch) {
      const hostname = new URL(`http://${host}`).hostname.replace(/^\[|\]$/g, '');
      if (!isIP(hostname)) {
        // getaddrinfo cannot be cancelled: race it with the timeout.
        const resolved = await Promise.race([
          dns.lookup(hostname).then(
            () => true,
            () => false,
          ),
          new Promise<boolean>((resolve) => controller.signal.addEventListener('abort', () => resolve(false), { once: true })),
        ]);
        if (!resolved) return local;
      }
    }
    const get = async (what: string): Promise<string | null> => {
      const res = await doFetch(`http://${host}/computeMetadata/v1/instance/${what}`, {
        headers: { 'Metadata-Flavor': 'Google' },
        signal: controller.signal,
      });
      if (!res.ok || res.headers.get('metadata-flavor') !== 'Google') return null;
      const text = (await res.text()).trim();
      // projects/123456789/machineTypes/n2-standard-8 -> n2-standard-8
      return text.split('/').pop() || null;
    };
    const [machineType, zone] = await Promise.all([get('machine-type'), get('zone').catch(() => null)]);
    if (!machineType) return local;
    return zone ? { machineType, zone } : { machineType };
  } catch {
    return local;
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// The collector
// ---------------------------------------------------------------------------------------------

export interface MetadataCollectorOptions {
  /** fio to ask for its version; FIO_BIN or `fio`. */
  fioBin?: string;
  /** Metadata server lookup (host, injected fetch, timeout). */
  gce?: GceLookupOptions;
}

/** What runEntry knows about an entry once its job is rendered and the first mount is up. */
export interface EntryMetadataInput {
  benchmarkId: string;
  vm: string;
  matrixId: number;
  testId: string;
  config: MountConfig;
  mountSpec: MountSpec;
  /** The mount handle: a gcsfuse handle's `binary`, `argv` and `bucket` are recorded when present. */
  handle: MountHandle;
  /** The rendered fio job, exactly as stored in job.fio. */
  renderedJob: string;
}

export interface MetadataCollector {
  /** The machine, collected on first use and cached for the agent's life. */
  host(): Promise<HostMetadata>;
  /** A gcsfuse binary's versions, cached per path. */
  gcsfuse(binary: string): Promise<GcsfuseMetadata>;
  /** metadata.json of an entry. */
  forEntry(input: EntryMetadataInput): Promise<EntryMetadata>;
}

async function osRelease(): Promise<string | undefined> {
  try {
    const text = await fs.readFile('/etc/os-release', 'utf8');
    const m = /^PRETTY_NAME=(?:"([^"]*)"|(.*))$/m.exec(text);
    return (m?.[1] ?? m?.[2])?.trim() || undefined;
  } catch {
    return undefined;
  }
}

async function collectHost(opts: MetadataCollectorOptions): Promise<HostMetadata> {
  const [fio, gce, release] = await Promise.all([fioVersion(opts.fioBin), gceMachineInfo(opts.gce), osRelease()]);
  const cpus = os.cpus();
  const host: HostMetadata = {
    hostname: os.hostname(),
    machineType: gce.machineType,
    kernelRelease: os.release(),
    arch: os.arch(),
    cpuCount: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryTotalBytes: os.totalmem(),
    nodeVersion: process.version,
    fioVersion: fio,
  };
  if (gce.zone) host.zone = gce.zone;
  if (release) host.osRelease = release;
  return host;
}

interface GcsfuseHandleFields {
  binary?: unknown;
  argv?: unknown;
  bucket?: unknown;
}

export function createMetadataCollector(opts: MetadataCollectorOptions = {}): MetadataCollector {
  let host: Promise<HostMetadata> | undefined;
  const binaries = new Map<string, Promise<GcsfuseMetadata>>();
  const collector: MetadataCollector = {
    host() {
      host ??= collectHost(opts);
      return host;
    },
    gcsfuse(binary) {
      let meta = binaries.get(binary);
      if (!meta) {
        meta = gcsfuseMetadata(binary);
        binaries.set(binary, meta);
      }
      return meta;
    },
    async forEntry(input) {
      const h = input.handle as MountHandle & GcsfuseHandleFields;
      const binary = typeof h.binary === 'string' ? h.binary : undefined;
      const [hostMeta, gcsfuse] = await Promise.all([collector.host(), binary ? collector.gcsfuse(binary) : Promise.resolve(null)]);
      const mount: EntryMetadata['mount'] = {
        kind: input.mountSpec.kind,
        configLabel: input.config.label,
        configCommit: input.config.commit,
        mountArgs: input.config.mountArgs,
        mountArgv: [...input.config.mountArgv],
        mountPoint: input.handle.mountPoint,
      };
      if (input.mountSpec.kind === 'gcsfuse') mount.bucket = input.mountSpec.bucket;
      else if (typeof h.bucket === 'string') mount.bucket = h.bucket;
      if (Array.isArray(h.argv) && h.argv.every((a) => typeof a === 'string')) mount.gcsfuseArgv = [...(h.argv as string[])];
      return {
        schema: ENTRY_METADATA_SCHEMA,
        benchmarkId: input.benchmarkId,
        vm: input.vm,
        matrixId: input.matrixId,
        testId: input.testId,
        collectedAt: new Date().toISOString(),
        host: hostMeta,
        gcsfuse,
        mount,
        job: { sha256: sha256Hex(input.renderedJob), bytes: Buffer.byteLength(input.renderedJob, 'utf8') },
      };
    },
  };
  return collector;
}

// ---------------------------------------------------------------------------------------------
// The metadata prefetch
// ---------------------------------------------------------------------------------------------

/**
 * Lists `dir` and every folder under it once, timed, as the original's `ls -R` before fio: gcsfuse
 * then has the metadata of every object in its caches when fio opens them. fs.opendir's iteration
 * reports a READDIR error that fs.readdir would take for an empty folder. Symlinks are counted,
 * never followed (gcsfuse shows objects as symlinks; one may lead anywhere). A hung FUSE server
 * would block the listing forever, so it gives up after `timeoutMs` with an error.
 */
export async function prefetchMetadata(dir: string, timeoutMs = 10 * 60_000): Promise<MetadataPrefetch> {
  const started = performance.now();
  let files = 0;
  let dirs = 0;
  const walk = async (folder: string): Promise<void> => {
    for await (const entry of await fs.opendir(folder)) {
      if (entry.isDirectory()) {
        dirs++;
        await walk(`${folder}/${entry.name}`);
      } else {
        files++;
      }
    }
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      walk(dir),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the metadata prefetch (recursive listing of ${dir}) took over ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
  return { dir, elapsedMs: performance.now() - started, files, dirs };
}

/** iteration-<n>.metadata.json of an iteration whose prefetch ran. */
export function iterationMetadata(iteration: number, metadataPrefetch: MetadataPrefetch): IterationMetadata {
  return { schema: ITERATION_METADATA_SCHEMA, iteration, metadataPrefetch };
}
