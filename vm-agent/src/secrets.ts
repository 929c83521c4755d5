/**
 * Secrets the agent knows, and their removal from anything it stores or reports. Children run
 * without them (child-env.ts); redaction is the second line: a stderr excerpt kept in a manifest,
 * an error that lands in a workflow history, a log uploaded to the artifact store.
 */

/** Environment variables whose values are secrets: by name, plus Temporal's own. */
const SECRET_NAME = /(KEY|SECRET|TOKEN|PASSW(OR)?D|CREDENTIAL|AUTH)/i;
/** Shorter values would redact ordinary words. */
const MIN_SECRET_LENGTH = 6;
export const REDACTED = '[REDACTED]';

export function secretValues(env: NodeJS.ProcessEnv = process.env): string[] {
  const values = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (!value || value.length < MIN_SECRET_LENGTH || !SECRET_NAME.test(name)) continue;
    // Paths to key files are not secrets themselves; their contents are never read into the environment.
    if (/^\/[^\s]*$/.test(value) && /(FILE|PATH|CREDENTIALS)$/i.test(name)) continue;
    values.add(value);
  }
  return [...values].sort((a, b) => b.length - a.length); // longest first: a secret containing another
}

export type Redact = (text: string) => string;

export function createRedactor(secrets: readonly string[]): Redact {
  const list = secrets.filter((s) => s.length >= MIN_SECRET_LENGTH);
  if (list.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const s of list) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return out;
  };
}

/** Redacts an error's message and stack in place (Temporal sends both to the workflow history). */
export function redactError(err: unknown, redact: Redact): unknown {
  if (err instanceof Error) {
    const message = redact(err.message);
    if (message !== err.message) {
      err.message = message;
      if (err.stack) err.stack = redact(err.stack);
    }
    if (err.cause) redactError(err.cause, redact);
  }
  return err;
}
