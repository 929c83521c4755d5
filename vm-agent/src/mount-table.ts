/**
 * The kernel's mount table (/proc/self/mountinfo) and unmounting: which FUSE file system is at a
 * path, which gcsfuse mounts and processes an earlier life of the agent left behind, and
 * unmounting (busy retries, then lazily).
 */
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isAlive, runCmd, signalGroupOrPid, sleep } from './process';

export interface MountInfoEntry {
  mountPoint: string;
  /** e.g. fuse.gcsfuse */
  fsType: string;
  /** For gcsfuse, the bucket name. */
  source: string;
}

function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses /proc/self/mountinfo (or another mountinfo file). */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const entries: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (sep < 0 || fields.length < sep + 3) continue;
    entries.push({ mountPoint: unescapeMountField(fields[4]!), fsType: fields[sep + 1]!, source: unescapeMountField(fields[sep + 2]!) });
  }
  return entries;
}

export async function readMountInfo(file = '/proc/self/mountinfo'): Promise<MountInfoEntry[]> {
  return parseMountInfo(await fs.readFile(file, 'utf8'));
}

function isFuse(e: MountInfoEntry): boolean {
  return e.fsType === 'fuse' || e.fsType.startsWith('fuse.');
}

/** The FUSE mount at a path (the last one stacked there), if any. */
export async function fuseMountAt(mountPoint: string): Promise<MountInfoEntry | undefined> {
  const all = await readMountInfo();
  return all.filter((e) => e.mountPoint === mountPoint && isFuse(e)).pop();
}

/**
 * gcsfuse mounts at or below `under` (all of them without it): what a restarted agent finds its
 * previous life left behind. gcsfuse mounts show as fstype fuse.gcsfuse.
 */
export async function findGcsfuseMounts(under?: string): Promise<MountInfoEntry[]> {
  // mountinfo shows real paths (e.g. /tmp behind a symlink resolved).
  const root = under === undefined ? undefined : await fs.realpath(under).catch(() => path.resolve(under));
  return (await readMountInfo()).filter(
    (e) => e.fsType === 'fuse.gcsfuse' && (root === undefined || e.mountPoint === root || e.mountPoint.startsWith(root + '/')),
  );
}

/** Live gcsfuse processes whose last argument (the mount point) is `mountPoint`. */
export function gcsfuseProcessesFor(mountPoint: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8')
        .split('\0')
        .filter((a) => a !== '');
      if (argv.length < 2 || argv[argv.length - 1] !== mountPoint) continue;
      if (!argv.some((a) => path.basename(a).startsWith('gcsfuse'))) continue;
      if (isAlive(Number(name))) pids.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

export interface UnmountOptions {
  /** fusermount3 by default; `umount` is used when it cannot be run. */
  fusermount?: string;
  /** How long to retry a busy mount before detaching it lazily. */
  busyRetryMs?: number;
  warn?: (message: string) => void;
}

/**
 * Unmounts whatever FUSE file system is at `mountPoint`: `fusermount3 -u`, retried briefly while
 * busy, then `fusermount3 -uz` (lazy: detached now, released when the last file closes). Returns
 * how it went; never leaves the path mounted unless even the lazy unmount failed.
 */
export async function unmountFuse(mountPoint: string, opts: UnmountOptions = {}): Promise<'not-mounted' | 'unmounted' | 'lazy' | 'failed'> {
  if (!(await fuseMountAt(mountPoint))) return 'not-mounted';
  const fusermount = opts.fusermount ?? 'fusermount3';
  const attempt = async (lazy: boolean): Promise<string | undefined> => {
    let res = await runCmd(fusermount, [lazy ? '-uz' : '-u', mountPoint], { timeoutMs: 30_000 });
    if (res.spawnError) res = await runCmd('umount', lazy ? ['-l', mountPoint] : [mountPoint], { timeoutMs: 30_000 });
    if (res.code === 0) return undefined;
    return (res.stderr.trim() || res.spawnError?.message || `exit ${res.code ?? res.signal}`).split('\n').pop();
  };
  const deadline = Date.now() + (opts.busyRetryMs ?? 3_000);
  let why: string | undefined;
  for (;;) {
    why = await attempt(false);
    if (!(await fuseMountAt(mountPoint))) return 'unmounted';
    if (Date.now() > deadline) break;
    await sleep(200);
  }
  opts.warn?.(`unmounting ${mountPoint} failed (${why ?? 'still mounted'}); detaching it lazily`);
  why = await attempt(true);
  if (!(await fuseMountAt(mountPoint))) return 'lazy';
  opts.warn?.(`lazy unmount of ${mountPoint} failed too: ${why ?? 'still mounted'}`);
  return 'failed';
}

/** Stops gcsfuse processes serving `mountPoint`: SIGTERM, then SIGKILL after a grace period. */
export async function stopGcsfuseProcesses(mountPoint: string, graceMs = 5_000): Promise<number[]> {
  const pids = gcsfuseProcessesFor(mountPoint);
  for (const pid of pids) signalGroupOrPid(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(100);
  for (const pid of pids.filter(isAlive)) signalGroupOrPid(pid, 'SIGKILL');
  return pids;
}

/**
 * For a restarted agent: unmounts every gcsfuse mount at or below `under` and stops the gcsfuse
 * processes serving them. Returns the mount points it cleaned.
 */
export async function cleanupLeftoverMounts(under: string, opts: UnmountOptions = {}): Promise<string[]> {
  const cleaned: string[] = [];
  // Deepest first, so a mount inside another is released before its parent.
  const mounts = (await findGcsfuseMounts(under)).sort((a, b) => b.mountPoint.length - a.mountPoint.length);
  for (const m of mounts) {
    opts.warn?.(`cleaning up gcsfuse mount of ${m.source} at ${m.mountPoint} left by an earlier run`);
    await unmountFuse(m.mountPoint, opts);
    await stopGcsfuseProcesses(m.mountPoint);
    // A gcsfuse that died leaves an unconnected mount behind: release that too.
    await unmountFuse(m.mountPoint, opts);
    cleaned.push(m.mountPoint);
  }
  return cleaned;
}
