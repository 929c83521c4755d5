import { parse } from 'shell-quote';
import { InputError, type InputLocation } from './errors';
import { hasControlChars, hasSpaceOrControlChars } from './text';

/**
 * What may reach gcsfuse: the mount args (split into argv, never through a shell), the bucket
 * and the custom endpoint. One module, so `plan`/`run`/`start` refuse exactly what the agent
 * refuses; the agent checks again before every mount because a job spec can be written to the
 * artifact store without the CLI.
 */

/** Splits gcsfuse mount args as a shell splits words, but never runs a shell: operators, globs, comments, expansions and unclosed quotes are refused. */
export function splitMountArgs(text: string, loc: InputLocation = {}): string[] {
  if (/[\n\r\0]/.test(text)) throw new InputError('mount args must be on one line', loc);
  if (text.includes('$') || text.includes('`')) {
    throw new InputError(`mount args ${JSON.stringify(text)} contain '$' or '\`': no shell expansion is done, write values literally`, loc);
  }
  const open = unclosedQuote(text);
  if (open) throw new InputError(`mount args ${JSON.stringify(text)} have an unclosed ${open} quote`, loc);
  const words = parse(text);
  return words.map((w) => {
    if (typeof w !== 'string') {
      // shell-quote returns a glob as { op: 'glob', pattern }, so test for it before other operators.
      const what =
        'comment' in w ? 'a comment' : w.op === 'glob' ? `a glob ${JSON.stringify(w.pattern)}` : `shell operator ${JSON.stringify(w.op)}`;
      throw new InputError(`mount args ${JSON.stringify(text)} contain ${what}: only plain flags and values are allowed`, loc);
    }
    return w;
  });
}

/** shell-quote silently closes a quote left open; a shell would refuse the line, so do we. */
function unclosedQuote(text: string): 'single' | 'double' | undefined {
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote === "'") {
      if (c === "'") quote = undefined;
    } else if (c === '\\') {
      i++; // escaped character, inside double quotes or outside any quote
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
    } else if (c === "'" || c === '"') {
      quote = c;
    }
  }
  return quote === "'" ? 'single' : quote === '"' ? 'double' : undefined;
}

/** A git commit, tag or branch name, as gcsfuse is built from. */
export function checkGitRef(ref: string, loc: InputLocation = {}): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/.test(ref) || ref.includes('..')) {
    throw new InputError(`${JSON.stringify(ref)} is not a git commit, tag or branch name`, loc);
  }
  return ref;
}

/**
 * Cloud Storage bucket names (cloud.google.com/storage/docs/buckets#naming): 3-63 characters,
 * or up to 222 with dots and 63 per dot-separated part; lowercase letters, digits, '-', '_' and
 * '.'; starting and ending with a letter or digit; not an IP address; no "goog" prefix and no
 * "google" (or close misspellings) inside.
 */
export function checkBucketName(bucket: string, loc: InputLocation = { flag: '--bucket' }): string {
  const why = bucketNameProblem(bucket);
  if (why) throw new InputError(`${JSON.stringify(bucket)} is not a Cloud Storage bucket name: ${why}`, loc);
  return bucket;
}

function bucketNameProblem(b: string): string | undefined {
  if (!/^[a-z0-9._-]*$/.test(b)) return "only lowercase letters, digits, '-', '_' and '.' are allowed";
  if (b.length < 3) return 'it must have at least 3 characters';
  if (b.length > 222 || (!b.includes('.') && b.length > 63)) return 'it is too long (63 characters, or 222 with dots)';
  if (!/^[a-z0-9]/.test(b) || !/[a-z0-9]$/.test(b)) return 'it must start and end with a letter or digit';
  if (b.includes('..') || b.split('.').some((part) => part.length === 0 || part.length > 63))
    return 'each dot-separated part must have 1-63 characters';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(b)) return 'it must not be an IP address';
  if (b.startsWith('goog') || /g[o0]{2}g[l1]e/.test(b)) return 'it must not start with "goog" or contain "google"';
  return undefined;
}

/**
 * gcsfuse's --custom-endpoint: an http(s) URL (fake-gcs-server: http://host:port/storage/v1/,
 * trailing slash included) or host:port. Credentials in the URL are refused: the endpoint is
 * stored in config.json, the job specs and the workflow input. An endpoint outside Google's
 * API domain receives the VM's OAuth token unless gcsfuse mounts without credentials, so it
 * needs anonymous access.
 */
export function checkEndpoint(
  endpoint: string,
  anonymousAccess: boolean,
  loc: InputLocation = { flag: '--gcsfuse-custom-endpoint' },
): string {
  if (hasSpaceOrControlChars(endpoint))
    throw new InputError(`custom endpoint ${JSON.stringify(endpoint)} contains white space or a control character`, loc);
  let host: string;
  if (/^[A-Za-z0-9.-]+:\d{1,5}$/.test(endpoint)) {
    host = endpoint.slice(0, endpoint.lastIndexOf(':'));
  } else {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new InputError(`custom endpoint ${JSON.stringify(endpoint)} is neither an http(s) URL nor host:port`, loc);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new InputError(`custom endpoint ${JSON.stringify(endpoint)} is neither an http(s) URL nor host:port`, loc);
    if (url.username || url.password) {
      throw new InputError(
        'custom endpoint has credentials in its URL (user:password@): they would be stored with the benchmark; give the agents credentials instead',
        loc,
      );
    }
    if (url.search || url.hash) throw new InputError(`custom endpoint ${JSON.stringify(endpoint)} must not have a query or fragment`, loc);
    host = url.hostname;
  }
  if (!anonymousAccess && !/(^|\.)googleapis\.com$/.test(host)) {
    throw new InputError(
      `custom endpoint host "${host}" is outside googleapis.com: gcsfuse would send it the VM's credentials; use --gcsfuse-anonymous-access (emulators) or a googleapis.com endpoint`,
      loc,
    );
  }
  return endpoint;
}

/** Flags gcsfuse-bench sets itself, or that would make gcsfuse do something other than mount. */
const OWNED_FLAGS: Record<string, string> = {
  foreground: 'gcsfuse-bench runs gcsfuse in the foreground itself, to own its process',
  'log-file': "gcsfuse-bench writes gcsfuse's log next to the entry's results (gcsfuse-<n>.log)",
  help: 'gcsfuse would print its help and exit instead of mounting',
  h: 'gcsfuse would print its help and exit instead of mounting',
  version: 'gcsfuse would print its version and exit instead of mounting',
  v: 'gcsfuse would print its version and exit instead of mounting',
  // gcsfuse runs as root on the VM: a file it reads or writes must not be chosen by a benchmark.
  'config-file': 'it reads a file from the VM (and can set any flag, the log file included); give the flags themselves',
  'key-file': "it reads a credentials file from the VM; gcsfuse uses the agent's credentials",
};

/** Flags naming a folder gcsfuse writes to: relative paths only, resolved inside the agent's scratch folder (gcsfuse's working directory). */
const SCRATCH_PATH_FLAGS = new Set(['cache-dir', 'temp-dir']);

const FLAG_WORD = /^--?([A-Za-z0-9][A-Za-z0-9_.-]*)(=[^]*)?$/;

/** Whether mount args set a flag (`--name`, `-name`, `--name=value`). */
export function setsFlag(argv: readonly string[], name: string): boolean {
  return argv.some((w) => FLAG_WORD.exec(w)?.[1] === name);
}

export type GcsfuseLogSeverity = 'trace' | 'debug' | 'info' | 'warning' | 'error' | 'off';

export interface GcsfuseArgvInput {
  /** The config's mount args, already checked with checkGcsfuseMountArgv. */
  mountArgv: readonly string[];
  spec: { customEndpoint?: string; anonymousAccess?: boolean };
  /** gcsfuse's --log-file. */
  logFile: string;
  /** --log-severity unless the mount args set it (a benchmark may want logging off). */
  logSeverity: GcsfuseLogSeverity;
  bucket: string;
  mountPoint: string;
}

/**
 * gcsfuse's arguments for one mount: the config's mount args, the mount spec's endpoint flags,
 * the flags gcsfuse-bench owns (--foreground, so the agent owns the process; --log-file, so the
 * log lands with the results), then the bucket and mount point.
 */
export function gcsfuseArgv(input: GcsfuseArgvInput): string[] {
  const { mountArgv, spec } = input;
  return [
    ...mountArgv,
    ...(spec.customEndpoint !== undefined ? ['--custom-endpoint', spec.customEndpoint] : []),
    ...(spec.anonymousAccess ? ['--anonymous-access'] : []),
    '--foreground',
    '--log-file',
    input.logFile,
    ...(setsFlag(mountArgv, 'log-severity') ? [] : ['--log-severity', input.logSeverity]),
    input.bucket,
    input.mountPoint,
  ];
}

/**
 * Checks gcsfuse mount args word by word: each is a flag (`--name`, `--name=value`, `-o`) or the
 * value of the flag before it (`--temp-dir x`). Positional words (gcsfuse-bench gives the bucket
 * and mount point itself), a bare `--`, control characters, flags we own and paths outside the
 * agent's scratch folder are refused.
 */
export function checkGcsfuseMountArgv(
  argv: readonly string[],
  spec: { customEndpoint?: string; anonymousAccess?: boolean },
  label = 'default',
  loc: InputLocation = { column: 'mount_args' },
): void {
  const fail = (why: string): never => {
    throw new InputError(`mount args of config "${label}": ${why}`, loc);
  };
  const anonymous = spec.anonymousAccess === true || argv.some((w) => w === '--anonymous-access' || w === '--anonymous-access=true');
  let valueOf: string | undefined; // the flag whose value the next word may be
  for (const word of argv) {
    if (hasControlChars(word)) fail(`${JSON.stringify(word)} contains a control character`);
    if (word === '--' || word === '-')
      fail(`a bare ${JSON.stringify(word)} is not allowed: gcsfuse-bench gives gcsfuse the bucket and mount point itself`);
    const flag = FLAG_WORD.exec(word);
    if (word.startsWith('-') && !flag) fail(`${JSON.stringify(word)} is not a flag (--name or --name=value)`);
    if (flag) {
      const name = flag[1]!;
      const owned = OWNED_FLAGS[name];
      if (owned) fail(`--${name} cannot be given: ${owned}`);
      if (name === 'custom-endpoint' && spec.customEndpoint !== undefined) {
        fail(`--custom-endpoint is given twice: the benchmark's mount spec sets it to ${spec.customEndpoint}`);
      }
      if (name === 'anonymous-access' && spec.anonymousAccess)
        fail("--anonymous-access is given twice: the benchmark's mount spec sets it");
      if (flag[2] !== undefined) checkFlagValue(name, flag[2].slice(1), anonymous, fail);
      valueOf = flag[2] === undefined ? name : undefined;
      continue;
    }
    if (valueOf === undefined) {
      fail(
        `${JSON.stringify(word)} is neither a flag nor the value of the flag before it: gcsfuse-bench gives gcsfuse the bucket and mount point itself`,
      );
    }
    checkFlagValue(valueOf!, word, anonymous, fail);
    valueOf = undefined;
  }
}

function checkFlagValue(name: string, value: string, anonymous: boolean, fail: (why: string) => never): void {
  if (SCRATCH_PATH_FLAGS.has(name)) {
    const parts = value.split('/');
    if (value.startsWith('/') || value === '' || parts.includes('..')) {
      fail(`--${name} ${JSON.stringify(value)} must be a relative folder without "..": it is created inside the agent's scratch folder`);
    }
  }
  if (name === 'custom-endpoint') {
    try {
      checkEndpoint(value, anonymous, {});
    } catch (err) {
      fail((err as InputError).detail);
    }
  }
}
