import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { quote } from 'shell-quote';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, tempDir, until } from '../support/harness';
import { processesMentioning } from '../support/procs';

/** Our own tmux server (-L), so the test never touches a user's sessions. */
const SOCKET = `gcsfuse-bench-test-${process.pid}`;
const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
afterAll(() => {
  try {
    tmux('kill-server');
  } catch {
    // not started, or already stopped
  }
});

const COLUMNS = 100;

describe('the demo on a terminal (tmux)', () => {
  it('shows bars with a sane ETA, ends on the final state and fits the report to the terminal', async () => {
    const home = tempDir('demo-tty');
    const exitFile = path.join(home, 'exit-code');
    const command = `${quote([process.execPath, '--import', 'tsx', path.join(REPO, 'src/client/demo.ts'), '--home', home, '--benchmark-id', 'e2e-tty'])}; echo $? > ${quote([exitFile])}; sleep 600`;
    tmux('new-session', '-d', '-s', 'demo', '-x', String(COLUMNS), '-y', '40', '-c', REPO, command);
    // Every screen while it runs, as a user would have seen it.
    const screens: string[] = [];
    await until(
      () => {
        screens.push(tmux('capture-pane', '-p', '-t', 'demo'));
        return existsSync(exitFile);
      },
      'the demo to end',
      240_000,
    );
    const all = tmux('capture-pane', '-p', '-J', '-S', '-1000', '-t', 'demo');
    expect(readFileSync(exitFile, 'utf8').trim(), all).toBe('0');

    const barLines = screens
      .flatMap((s) => s.split('\n'))
      .map((l) => l.trimEnd())
      .filter((l) => /\| ETA /.test(l));
    expect(barLines.length).toBeGreaterThan(0);
    // cli-progress's own ETA printed "NFs"/"LLs" before any progress; ours says "--" until an entry ended.
    for (const l of barLines) expect(l).toMatch(/\| ETA (--|\d+s|\d+m\d\ds|\d+h\d\dm) \|/);
    expect(barLines.some((l) => l.includes('ETA --'))).toBe(true);
    for (const l of barLines) expect(l.length).toBeLessThanOrEqual(COLUMNS);

    // The last frame of the bars is the final state: all done, no VM still "running".
    const finalBars = all
      .split('\n')
      .map((l) => l.trimEnd())
      .filter((l) => /\| ETA /.test(l));
    const lastAll = finalBars.filter((l) => l.startsWith('all')).at(-1)!;
    expect(lastAll).toMatch(/ 4\/4 \| 4 passed 0 failed \| ETA 0s \| done$/);
    const lastFrame = finalBars.slice(finalBars.lastIndexOf(lastAll));
    expect(lastFrame).toHaveLength(4); // all + 3 VMs
    for (const l of lastFrame.slice(1)) expect(l).toMatch(/\| completed$/);

    // The report table fits the terminal and explains itself.
    const table = all.split('\n').filter((l) => /^[┌│├└]/.test(l));
    expect(table.length).toBeGreaterThan(0);
    for (const l of table) expect(l.length).toBeLessThanOrEqual(COLUMNS);
    expect(all).toContain('read/write: bandwidth in MiB/s');
    // The demo has exited; the shell that waits in the pane goes with the tmux server.
    tmux('kill-server');
    await until(() => processesMentioning(home).length === 0, 'nothing left running', 10_000);
  }, 300_000);
});
