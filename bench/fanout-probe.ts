/**
 * Diagnostic (not recorded, not in run-all): the Temporal server's floor for starting N child
 * workflows that do nothing (bench/probe/workflows.ts), flat from one parent and as a tree of
 * groups. bench/fleet-scale.ts measures the same floor in its own run, on its own server, before
 * the real benchmark; this runs the probe alone.
 *
 *   npx tsx bench/fanout-probe.ts [--leaves 1000] [--group-size 32] [--server dev|temporal|both] [--memory-db]
 */
import { log, numberFlag, removeDir, scratchDir } from './lib';
import { measureFanoutFloor, serverChoices, startStack } from './temporal-support';

const LEAVES = numberFlag('leaves', 1000);
const GROUP_SIZE = numberFlag('group-size', 32);
const TIMEOUT_S = numberFlag('timeout-s', 900);

async function main(): Promise<void> {
  for (const kind of serverChoices('dev')) {
    const home = scratchDir(`fanout-${kind}`);
    const stack = await startStack(home, { inProcessOrchestrator: false, server: kind });
    try {
      for (const f of await measureFanoutFloor(stack, LEAVES, GROUP_SIZE, TIMEOUT_S))
        process.stdout.write(JSON.stringify({ type: 'probe', server: stack.server.label, ...f }) + '\n');
    } finally {
      await stack.stop();
      removeDir(home);
    }
  }
  log('done');
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
