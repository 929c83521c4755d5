/**
 * The orchestrator worker precompiled to JavaScript, to run on plain Node without the tsx loader.
 * tsx costs every process it starts ~37 MiB (its module hooks run on a loader thread), and the
 * worker's workflow thread inherits it too; bench/orchestrator-memory.ts measures both forms.
 *
 * One ES module per entry plus chunks (esbuild, `splitting`), packages left to node_modules, so
 * what the worker imports at first use (Compute Engine, the report's libraries) stays lazy.
 * The output is a build product of this checkout: rebuild it after changing the code.
 *
 *   npx tsx src/workers/build-js.ts     # writes .gcsfuse-bench/dist/orchestrator/orchestrator.mjs
 *   node .gcsfuse-bench/dist/orchestrator/orchestrator.mjs --artifacts <dir-or-gs-url> ...
 */
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findRepoRoot } from '../shared/build';

const REPO = findRepoRoot();
export const PRECOMPILED_DIR = path.join(REPO, '.gcsfuse-bench', 'dist', 'orchestrator');
export const PRECOMPILED_ORCHESTRATOR = path.join(PRECOMPILED_DIR, 'orchestrator.mjs');

/**
 * Compiles src/workers/orchestrator.ts and what it imports into `outDir` (replaced whole), which
 * must lie inside the checkout (the worker finds its sources and node_modules from there).
 */
export async function buildPrecompiledOrchestrator(outDir: string = PRECOMPILED_DIR): Promise<string> {
  // esbuild comes with tsx; imported here so the worker never loads it.
  const { build } = await import('esbuild');
  const tmp = `${outDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    await build({
      entryPoints: { orchestrator: path.join(REPO, 'src', 'workers', 'orchestrator.ts') },
      bundle: true,
      splitting: true, // dynamic imports become chunks loaded at first use, as under tsx
      format: 'esm',
      platform: 'node',
      target: 'node20',
      packages: 'external',
      outdir: tmp,
      outExtension: { '.js': '.mjs' },
      logLevel: 'warning',
    });
    mkdirSync(path.dirname(outDir), { recursive: true });
    rmSync(outDir, { recursive: true, force: true });
    renameSync(tmp, outDir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return path.join(outDir, 'orchestrator.mjs');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildPrecompiledOrchestrator().then(
    (file) => console.log(`precompiled orchestrator worker: ${file}`),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
