/** The `gcsfuse-bench` program: global options, the commands (src/client/commands and beside) and the exit code. */
import { Command, CommanderError } from 'commander';
import { fileURLToPath } from 'node:url';
import { registerCancelCommand, registerRetryVmCommand } from './commands/control';
import { registerFleetCommand } from './commands/fleet';
import { registerReportCommand, registerStatusCommand, registerWatchCommand } from './commands/inspect';
import { addGlobalOptions } from './commands/options';
import { registerRunCommands } from './commands/run';
import { registerPlanCommand, registerStartCommand } from './commands/start-plan';
import { compareCommand } from './compare';
import { EXIT, exitCodeOf } from './exit-codes';
import { exportCommand } from './export';
import { registerScheduleCommands } from './schedule';
import { registerBisectCommand } from './bisect';
import { versionText } from './version';

// Scripts, the demo and tests take the exit codes from here.
export { EXIT };

export function buildCli(argv: readonly string[] = []): Command {
  const program = addGlobalOptions(
    new Command('gcsfuse-bench')
      .description('Durable, distributed fio micro-benchmarks for GCSFuse on Temporal')
      .option('-V, --version', 'print the build (version, git commit, uncommitted changes) and exit'),
  )
    .showHelpAfterError()
    .exitOverride();
  // Read only when asked (not with .version(text)), so other commands pay no git call at start.
  program.on('option:version', () => {
    const text = versionText();
    process.stdout.write(`${text}\n`);
    throw new CommanderError(0, 'commander.version', text);
  });
  // What run-config.json records: the arguments after the program name.
  registerRunCommands(program, argv.slice(2));
  registerStartCommand(program);
  registerPlanCommand(program);
  registerWatchCommand(program);
  registerStatusCommand(program);
  registerFleetCommand(program);
  registerRetryVmCommand(program);
  registerCancelCommand(program);
  registerReportCommand(program);
  program.addCommand(compareCommand());
  program.addCommand(exportCommand());
  registerScheduleCommands(program);
  registerBisectCommand(program);
  return program;
}

export async function runCli(argv: string[]): Promise<number> {
  const program = buildCli(argv);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    return exitCodeOf(err);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runCli(process.argv).then((code) => process.exit(code));
}
