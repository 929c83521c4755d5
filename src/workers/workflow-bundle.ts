/**
 * The orchestrator's workflow code, bundled once and cached by content hash, so a worker does not
 * run webpack at every start (that took ~120 MiB of the worker's memory for good, and seconds).
 *
 * The cache key hashes every source file under src/ (the bundle's whole import graph lives there)
 * and the versions of the Temporal packages that shape the bundle, so any change to workflow code
 * or its imports gives a new bundle. A missing bundle is built in a child process (the worker's
 * own memory never holds webpack), written atomically, and reused by every later start.
 *
 *   npx tsx src/workers/workflow-bundle.ts      # build it ahead (scripts/setup.sh does)
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { tsxCommand } from '../local/processes';
import { findRepoRoot } from '../shared/build';

// From the checkout, not from import.meta.url: in a precompiled worker (build-js.ts) this module is part of another file.
const REPO = findRepoRoot();
const SRC = path.join(REPO, 'src');
const THIS_FILE = path.join(SRC, 'workers', 'workflow-bundle.ts');
export const WORKFLOWS_ENTRY = path.join(SRC, 'workflows/index.ts');
/** Where bundles are kept; GCSFUSE_BENCH_BUNDLE_DIR moves it (e.g. a read-only install). */
export const BUNDLE_DIR = process.env.GCSFUSE_BENCH_BUNDLE_DIR ?? path.join(REPO, '.gcsfuse-bench', 'workflow-bundles');
/** Packages whose version changes the bundle (the workflow runtime and the bundler). */
const BUNDLE_PACKAGES = ['@temporalio/workflow', '@temporalio/worker', '@temporalio/common'];

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) sourceFiles(p, out);
    else if (/\.(ts|js|json)$/.test(e.name)) out.push(p);
  }
  return out;
}

/** Hash of everything the bundle is built from. */
export function workflowSourceHash(): string {
  const h = createHash('sha256');
  const require = createRequire(import.meta.url);
  for (const pkg of BUNDLE_PACKAGES) h.update(`${pkg}@${(require(`${pkg}/package.json`) as { version: string }).version}\n`);
  for (const f of sourceFiles(SRC)) {
    h.update(path.relative(SRC, f));
    h.update('\0');
    h.update(readFileSync(f));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

export const bundlePath = (hash: string): string => path.join(BUNDLE_DIR, `workflows-${hash}.js`);

/** Bundles the workflows in this process and writes the file atomically (the child's job). */
export async function buildWorkflowBundle(file: string): Promise<void> {
  // Imported here: webpack and its loaders are only needed when a bundle is built.
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_ENTRY, logger: quietLogger });
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, code);
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
}

const noop = () => undefined;
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: console.warn, error: console.error };

/**
 * The path of the bundle of the current workflow code, building it (in a child process) if it
 * is not cached yet.
 */
export async function prebuiltWorkflowBundle(): Promise<string> {
  const file = bundlePath(workflowSourceHash());
  if (existsSync(file)) return file;
  const c = tsxCommand(THIS_FILE, ['--out', file]);
  await new Promise<void>((resolve, reject) =>
    execFile(c.command, c.args, { maxBuffer: 16 * 2 ** 20 }, (err, _stdout, stderr) =>
      err ? reject(new Error(`bundling the workflows (${WORKFLOWS_ENTRY}) failed: ${stderr.trim() || err.message}`)) : resolve(),
    ),
  );
  if (!existsSync(file)) throw new Error(`bundling the workflows wrote no ${file}`);
  return file;
}

if (process.argv[1] && path.resolve(process.argv[1]) === THIS_FILE) {
  const i = process.argv.indexOf('--out');
  const file = i >= 0 ? process.argv[i + 1]! : bundlePath(workflowSourceHash());
  buildWorkflowBundle(file).then(
    () => console.log(`workflow bundle: ${file}`),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
