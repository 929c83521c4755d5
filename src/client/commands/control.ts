/** Commands that act on a running benchmark: `retry-vm` and `cancel`; a refusal exits 5. */
import type { Command } from 'commander';
import { cancelBenchmark, connectClient, parseReconnectTimeout, reconnectNotices, RefusedError, retryVm } from '../benchmarks';
import { EXIT } from '../exit-codes';
import { finalStateText } from '../watch-view';
import { addReconnectOption, jsonOf, print, temporalOf } from './options';

/** Runs `fn`; a refusal (the workflow said no) is printed and exits 5, anything else is thrown on. */
async function refusalExits(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof RefusedError)) throw err;
    console.error(`error: ${err.message}`);
    process.exitCode = EXIT.refused;
  }
}

export function registerRetryVmCommand(program: Command): void {
  program
    .command('retry-vm <benchmark-id> <vm>')
    .description("re-run a VM's failed entries, on the same VM or --onto another")
    .option('--onto <vm>', 'run them on this VM instead')
    .action(async (id: string, vm: string, o: { onto?: string }, cmd: Command) => {
      const client = await connectClient(temporalOf(cmd));
      await refusalExits(async () => {
        const r = await retryVm(client, id, vm, o.onto);
        print(jsonOf(cmd), r, () => `retrying ${r.retried} entries on ${r.onto} (${r.workflowId})`);
      });
    });
}

export function registerCancelCommand(program: Command): void {
  addReconnectOption(
    program
      .command('cancel <benchmark-id>')
      .description('cancel a benchmark and wait until it is closed: agents stop fio and unmount, finished entries are reported'),
  ).action(async (id: string, o: { reconnectTimeout?: string }, cmd: Command) => {
    const client = await connectClient(temporalOf(cmd));
    await refusalExits(async () => {
      console.error(`cancelling ${id}; waiting for its agents to stop fio`);
      const state = await cancelBenchmark(client, id, reconnectNotices(parseReconnectTimeout(o.reconnectTimeout)));
      print(jsonOf(cmd), state, () => finalStateText(id, state));
    });
  });
}
