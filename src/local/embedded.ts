import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTemporalDevServer, type DevServer } from './temporal-dev-server';
import { precompiledOrchestrator } from '../workers/build-js';
import { startProcess, tsxCommand, type ManagedProcess } from './processes';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const ORCHESTRATOR_ENTRY = path.join(REPO, 'src/workers/orchestrator.ts');
export const AGENT_ENTRY = path.join(REPO, 'vm-agent/src/main.ts');

export interface EmbeddedOptions {
  /** Everything goes below here: server database, artifacts, agent scratch space, logs. */
  home: string;
  agents: string[];
  headless?: boolean;
}

/**
 * The embedded default: a Temporal dev server, an orchestrator worker and one agent
 * process per local "VM", each a real process with its own log file.
 */
export interface Embedded {
  server: DevServer;
  artifacts: string;
  logDir: string;
  worker: ManagedProcess;
  agents: Map<string, ManagedProcess>;
  startAgent(vm: string): ManagedProcess;
  startWorker(): ManagedProcess;
  /** Restarts the Temporal server on its database file (histories survive). */
  restartServer(): Promise<void>;
  stop(): Promise<void>;
}

export async function startEmbedded(o: EmbeddedOptions): Promise<Embedded> {
  const logDir = path.join(o.home, 'logs');
  const artifacts = path.join(o.home, 'artifacts');
  let server = await startTemporalDevServer({ dir: path.join(o.home, 'temporal'), headless: o.headless });
  const env = { TEMPORAL_ADDRESS: server.address, GCSFUSE_BENCH_ARTIFACTS: artifacts };
  // The worker precompiled to JavaScript on plain node: tsx's loader costs it ~60 MiB (src/workers/build-js.ts).
  const workerEntry = await precompiledOrchestrator();
  const startWorker = (): ManagedProcess =>
    startProcess({ name: 'orchestrator-worker', command: process.execPath, args: [workerEntry], env, logDir });
  const startAgent = (vm: string): ManagedProcess => {
    const c = tsxCommand(AGENT_ENTRY, ['--vm', vm, '--work-dir', path.join(o.home, 'agents', vm)]);
    const p = startProcess({ name: `agent-${vm}`, ...c, env, logDir });
    embedded.agents.set(vm, p);
    return p;
  };
  const embedded: Embedded = {
    get server() {
      return server;
    },
    artifacts,
    logDir,
    worker: startWorker(),
    agents: new Map(),
    startAgent,
    startWorker() {
      embedded.worker = startWorker();
      return embedded.worker;
    },
    async restartServer() {
      server = await server.restart();
    },
    async stop() {
      // Agents first (they stop fio), then the worker, then the server.
      await Promise.all([...embedded.agents.values()].map((a) => a.stop()));
      await embedded.worker.stop();
      await server.stop();
    },
  };
  for (const vm of o.agents) startAgent(vm);
  return embedded;
}
