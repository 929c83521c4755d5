import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { REPO } from '../support/harness';
import { run } from '../support/procs';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'gcsfuse-bench-hygiene-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

it('test files leave no temporary folders, even when a test fails', async () => {
  const vitest = path.join(REPO, 'node_modules/vitest/vitest.mjs');
  const r = await run(process.execPath, [vitest, 'run', '--config', 'test/fixtures/temp-hygiene/vitest.config.ts'], {
    cwd: REPO,
    env: { TMPDIR: tmp },
  });
  // The fixture ran: two tests passed... one failed on purpose.
  expect(r.code, r.stdout + r.stderr).toBe(1);
  expect(r.stdout + r.stderr).toMatch(/1 failed/);
  // Only tool caches may stay (tsx's compile cache), never a test's folder.
  expect(readdirSync(tmp).filter((f) => f.startsWith('gcsfuse-bench-'))).toEqual([]);
});
