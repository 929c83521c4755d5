/** Reading gcsfuse's log (JSON or text format): the error messages that tell why a mount failed. */
import { promises as fs } from 'node:fs';

// Errors gcsfuse logs on every start without Google credentials (metrics/tracing exporters): not the cause.
const NOISE = /gcpexporter|setting up tracing|could not find default credentials/;

/** The error messages in (part of) a gcsfuse log, JSON or text format, less known noise. */
export function errorMessages(log: string, severities: readonly string[] = ['ERROR', 'FATAL']): string[] {
  const messages: string[] = [];
  for (const line of log.split('\n')) {
    if (!line.trim()) continue;
    let severity: string | undefined;
    let message = line;
    try {
      const j = JSON.parse(line) as { severity?: string; message?: string };
      severity = j.severity;
      message = j.message ?? line;
    } catch {
      severity = /\b(ERROR|FATAL|WARNING|WARN)\b/.exec(line)?.[1]?.replace(/^WARN$/, 'WARNING');
    }
    if (severity !== undefined && severities.includes(severity) && !NOISE.test(message)) messages.push(message.trim());
  }
  return messages;
}

/** What a file holds past `offset` (at most 4 MiB): what gcsfuse logged since then. */
export async function readFrom(file: string, offset: number): Promise<string> {
  const fh = await fs.open(file, 'r').catch(() => undefined);
  if (!fh) return '';
  try {
    const { size } = await fh.stat();
    if (size <= offset) return '';
    const buf = Buffer.alloc(Math.min(size - offset, 4 * 1024 * 1024));
    const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

/** The last error messages gcsfuse wrote, from its log (JSON or text) and its output. */
export async function failureDetails(logFile: string, outputFile: string, max = 3): Promise<string> {
  const log = await fs.readFile(logFile, 'utf8').catch(() => '');
  // Without errors (e.g. gcsfuse still retrying when time ran out), its warnings tell what it was doing.
  let messages = errorMessages(log);
  if (messages.length === 0) messages = errorMessages(log, ['WARNING']).slice(-1);
  const output = (await fs.readFile(outputFile, 'utf8').catch(() => ''))
    .replace(/WARNING: gcsfuse invoked as root\.[^]*?interacting with the file system\.\n?/, '')
    .trim();
  if (output)
    messages.push(
      ...output
        .split('\n')
        .slice(-max)
        .map((l) => l.trim()),
    );
  return [...new Set(messages)].slice(-max).join(' | ').slice(-2000);
}
