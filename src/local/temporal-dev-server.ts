import { Connection } from '@temporalio/client';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { devServerSearchAttributeArgs } from '../shared/names';
import { freePort } from './ports';
import { startProcess, type ManagedProcess } from './processes';

export interface DevServerOptions {
  /** Folder for the database file and the server's log. */
  dir: string;
  port?: number;
  uiPort?: number;
  /** No Web UI (tests that don't need it start faster). */
  headless?: boolean;
  /** Keep workflow histories in a SQLite file so a restarted server resumes its runs. */
  persist?: boolean;
}

export interface DevServer {
  address: string;
  uiUrl: string | null;
  process: ManagedProcess;
  stop(): Promise<void>;
  /** Stops the server and starts it again on the same ports and database file. */
  restart(): Promise<DevServer>;
}

export function temporalBinary(): string {
  const bin = process.env.TEMPORAL_CLI ?? 'temporal';
  try {
    execFileSync(bin, ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error(`the temporal CLI (${bin}) was not found: run \`npm run setup\``);
  }
  return bin;
}

/** Starts `temporal server start-dev` on loopback and waits until its frontend answers. */
export async function startTemporalDevServer(o: DevServerOptions): Promise<DevServer> {
  mkdirSync(o.dir, { recursive: true });
  const port = o.port ?? (await freePort());
  const uiPort = o.headless ? undefined : (o.uiPort ?? (await freePort()));
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--log-level',
    'warn',
    ...devServerSearchAttributeArgs(),
  ];
  // The dev server reads its transfer queue at most 20 times a second by default, which adds
  // tens of ms to every child start and task dispatch once a few VMs run (bench/README.md).
  args.push('--dynamic-config-value', 'history.transferProcessorMaxPollRPS=2000');
  if (o.persist !== false) args.push('--db-filename', path.join(o.dir, 'temporal.db'));
  if (uiPort) args.push('--ui-port', String(uiPort));
  else args.push('--headless');
  // The HTTP API port defaults to port+1000 and the metrics port may collide; pick free ones.
  args.push('--http-port', String(await freePort()), '--metrics-port', String(await freePort()));
  const proc = startProcess({ name: 'temporal-dev-server', command: temporalBinary(), args, logDir: o.dir });
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`the Temporal dev server exited early; see ${proc.logFile}`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1_000 });
      await conn.workflowService.getSystemInfo({});
      await conn.close();
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        await proc.stop();
        throw new Error(
          `the Temporal dev server did not answer on ${address} within 60 s (${(err as Error).message}); see ${proc.logFile}`,
          { cause: err },
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return {
    address,
    uiUrl: uiPort ? `http://127.0.0.1:${uiPort}` : null,
    process: proc,
    stop: () => proc.stop(),
    restart: async () => {
      await proc.stop();
      return startTemporalDevServer({ ...o, port, uiPort });
    },
  };
}
