import { InputError } from './errors';

/**
 * The fio job policy. A job template comes from whoever can start a workflow in the namespace
 * or write to the artifacts bucket, and fio runs as root on every VM: so a job may measure I/O
 * inside its VM's test-data folder and nothing else. Options that run programs or load code,
 * that change the host, or whose paths leave that folder are refused, by `plan`/`run`/`start`
 * (naming the line and option) and again by the agent before fio starts. The only way around it
 * is the agent's own `--allow-fio-option` (set on the VM, never carried by a workflow).
 *
 * The option list was taken from fio 3.33's `fio --cmdhelp=all` and its engine list; the agent
 * also asks fio itself which options it parsed (`--debug=parse`), so an alias or a syntax this
 * parser reads differently from fio is still checked under fio's own option name.
 */

export interface FioOption {
  /** 1-based line in the job file; absent for options reported by fio's own parser. */
  line?: number;
  section: string;
  name: string;
  value?: string;
}

/** Options refused outright, with why. */
export const REFUSED_FIO_OPTIONS: Readonly<Record<string, string>> = {
  exec_prerun: 'it runs a program on the VM',
  exec_postrun: 'it runs a program on the VM',
  cgroup: 'it creates and writes cgroups on the VM',
  cgroup_nodelete: 'it keeps cgroups on the VM',
  cgroup_weight: 'it writes cgroups on the VM',
  ioscheduler: "it changes the block device's I/O scheduler on the VM",
  read_iolog: 'it reads an I/O log from a path of its own',
  read_iolog_chunked: 'it reads an I/O log from a path of its own',
  write_iolog: 'it writes an I/O log to a path of its own',
  merge_blktrace_file: 'it writes a file at a path of its own',
  replay_redirect: 'it sends replayed I/O to a device of its own',
  write_bw_log: 'it writes log files at paths of its own',
  write_lat_log: 'it writes log files at paths of its own',
  write_iops_log: 'it writes log files at paths of its own',
  write_hist_log: 'it writes log files at paths of its own',
  profile: 'a built-in profile chooses its own files and devices',
};

/** I/O engines that do plain file I/O; the rest reach devices, networks, programs or shared libraries. */
export const ALLOWED_IOENGINES: ReadonlySet<string> = new Set([
  'sync',
  'psync',
  'vsync',
  'pvsync',
  'pvsync2',
  'libaio',
  'io_uring',
  'posixaio',
  'mmap',
  'splice',
  'null',
  'filecreate',
  'filestat',
  'filedelete',
  'dircreate',
  'dirstat',
  'dirdelete',
  'falloc',
  'ftruncate',
  'cpuio',
]);

/** Options whose value names files or folders, and how. */
const PATH_OPTIONS = new Set(['directory', 'filename', 'filename_format', 'opendir']);

/** fio strips everything from the first ';' or '#' on an option line (checked on fio 3.33). */
function stripComment(text: string): string {
  const i = text.search(/[;#]/);
  return i < 0 ? text : text.slice(0, i);
}

/** Reads a job file the way fio's ini parser does: sections, `name[=value]` lines, `include` lines. */
export function parseFioJob(text: string, file: string): FioOption[] {
  const options: FioOption[] = [];
  let section = '';
  text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .forEach((raw, i) => {
      const line = i + 1;
      const body = stripComment(raw).trim();
      if (body === '') return;
      const header = /^\[(.*)\]$/.exec(body);
      if (header) {
        section = header[1]!;
        options.push({ line, section, name: '[section]', value: section });
        return;
      }
      if (/^include(\s|$)/.test(body)) {
        throw new InputError('"include" is refused: it makes fio read another file of the VM (and print it when it is no job file)', {
          file,
          line,
        });
      }
      const eq = body.indexOf('=');
      const name = (eq < 0 ? body : body.slice(0, eq)).trim();
      const value = eq < 0 ? undefined : body.slice(eq + 1).trim();
      options.push({ line, section, name, ...(value !== undefined ? { value } : {}) });
    });
  return options;
}

export interface FioPolicyContext {
  /** The job file's name, for messages. */
  file: string;
  /** Every path the job names must stay inside this folder (the VM's test-data folder). */
  allowedRoot: string;
  /** fio's working directory: relative names resolve here. */
  cwd: string;
  /** Options the agent's operator allowed on this VM (`--allow-fio-option`): not checked. */
  allow?: ReadonlySet<string>;
}

/** fio splits `directory` and `filename` on ':' unless it is escaped as '\:'. */
function splitPaths(value: string): string[] {
  return value.split(/(?<!\\):/).map((p) => p.replace(/\\:/g, ':'));
}

/** POSIX path resolution without node:path, so src/core stays free of Node modules. */
export function resolvePath(base: string, p: string): string {
  const out: string[] = [];
  for (const part of (p.startsWith('/') ? p : `${base}/${p}`).split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return `/${out.join('/')}`;
}

export function isInside(root: string, p: string): boolean {
  const r = resolvePath('/', root);
  const q = resolvePath('/', p);
  return q === r || q.startsWith(r === '/' ? '/' : `${r}/`);
}

/** Throws an InputError naming the line and option that the policy refuses. */
export function checkFioOptions(options: readonly FioOption[], ctx: FioPolicyContext): void {
  const where = (o: FioOption) => ({ file: ctx.file, ...(o.line !== undefined ? { line: o.line } : {}) });
  const refuse = (o: FioOption, why: string): never => {
    const what = o.name === '[section]' ? `job name [${o.value}]` : `option "${o.name}${o.value !== undefined ? `=${o.value}` : ''}"`;
    throw new InputError(`${what} is refused: ${why}`, where(o));
  };
  const root = resolvePath('/', ctx.allowedRoot);
  for (const o of options) {
    if (ctx.allow?.has(o.name)) continue;
    const value = o.value ?? '';
    // fio expands ${VAR} from its environment anywhere in a job file.
    if (value.includes('${')) refuse(o, 'fio would expand an environment variable (${...}); write the value itself');
    if (o.name === '[section]' || o.name === 'name') {
      // The job name is part of fio's default file names ($jobname.$jobnum.$filenum): a '/' leaves the folder.
      if (value.includes('/')) refuse(o, "a '/' in a job name makes fio create its files outside the test-data folder");
      continue;
    }
    const why = REFUSED_FIO_OPTIONS[o.name];
    if (why) refuse(o, why);
    if (o.name === 'ioengine' && !ALLOWED_IOENGINES.has(value)) {
      refuse(
        o,
        value.startsWith('external')
          ? 'it loads a shared library into fio'
          : value === 'exec'
            ? 'it runs a program on the VM'
            : `only file I/O engines are allowed (${[...ALLOWED_IOENGINES].join(', ')})`,
      );
    }
    if ((o.name === 'mem' || o.name === 'iomem') && value.includes(':')) refuse(o, 'it maps a file of its own choosing');
    if (PATH_OPTIONS.has(o.name) && value === '') refuse(o, 'it needs a value');
    if (o.name === 'filename' && splitPaths(value).includes('-')) refuse(o, "fio would use its standard input or output ('-')");
  }
  for (const { option, path: p } of pathsOfJob(options, ctx.cwd, ctx.allow)) {
    if (!isInside(root, p)) refuse(option, `${p} is outside the VM's test-data folder ${root}; use TEST_DATA_DIR`);
  }
}

/**
 * Every path a job's options can make fio touch, resolved as fio resolves them: directories
 * against fio's working directory, file names against each directory of their job (or of
 * [global]); an absolute file name is also taken as written.
 */
export function pathsOfJob(options: readonly FioOption[], cwd: string, allow?: ReadonlySet<string>): { option: FioOption; path: string }[] {
  const dirs = new Map<string, string[]>(); // section -> its directories
  for (const o of options) {
    if (o.name === 'directory' && o.value && !allow?.has('directory'))
      dirs.set(
        o.section,
        splitPaths(o.value).map((d) => resolvePath(cwd, d)),
      );
  }
  const dirsOf = (section: string) => dirs.get(section) ?? dirs.get('global') ?? [cwd];
  const out: { option: FioOption; path: string }[] = [];
  for (const o of options) {
    if (!PATH_OPTIONS.has(o.name) || !o.value || allow?.has(o.name)) continue;
    const names = o.name === 'filename_format' ? [o.value.replace(/\$(jobname|jobnum|filenum|clientuid)/g, 'x')] : splitPaths(o.value);
    for (const name of names) {
      if (o.name === 'directory' || o.name === 'opendir') out.push({ option: o, path: resolvePath(cwd, name) });
      else {
        if (name.startsWith('/')) out.push({ option: o, path: resolvePath('/', name) });
        for (const d of dirsOf(o.section)) out.push({ option: o, path: resolvePath(d, name) });
      }
    }
  }
  return out;
}

/** Parses and checks a rendered job file. */
export function checkFioJob(rendered: string, ctx: FioPolicyContext): FioOption[] {
  const options = parseFioJob(rendered, ctx.file);
  checkFioOptions(options, ctx);
  return options;
}

/**
 * The options fio's own parser handled, from `fio --debug=parse --parse-only` output
 * (`handle_option=<name>, ptr=<value>` lines), and how many files it read (an `include`
 * shows as a second "Parsing ini file").
 */
export function optionsFromFioDebug(output: string): { options: FioOption[]; filesParsed: number } {
  const options: FioOption[] = [];
  let filesParsed = 0;
  let section = '';
  for (const line of output.split('\n')) {
    if (/\bParsing ini file\b/.test(line)) filesParsed++;
    const sec = /\bParsing section \[(.*)\]\s*$/.exec(line);
    if (sec) section = sec[1]!;
    const m = /\s(?<!_)handle_option=([^,]*), ptr=(.*)$/.exec(line);
    if (m) options.push({ section, name: m[1]!, value: m[2]! });
  }
  return { options, filesParsed };
}
