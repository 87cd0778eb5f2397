// The `lightfoot` command line: commands, help text and error-to-exit-code
// mapping. Commands call injected handlers so the daemon and doctor wiring
// live elsewhere and this file stays testable without root.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError } from 'commander';
import { LightfootError, UsageError, exitCodeFor, formatErrorLine } from '../errors';
import { DEFAULTS, parseConfigFile, parseDecodersDir, parseRunOptions, type RawRunOptions, type RunOptions } from './options';
import type { DecodersListOptions, DecodersVerifyOptions } from './decoders-command';
import { WATCHER_DEFAULTS, parseWatcherOptions, type RawWatcherOptions, type WatcherOptions } from '../watcher/options';

export interface DoctorOptions {
  json: boolean;
}

export interface CommandHandlers {
  /** Runs until stopped; resolves to the process exit code. */
  run(opts: RunOptions): Promise<number>;
  doctor(opts: DoctorOptions): Promise<number>;
  /** `decoders list|verify`; defaults to ./decoders-command with the real wasm engine. */
  decoders?: DecodersHandlers;
  /** `watcher` (Kubernetes); defaults to ../watcher/watcher, loaded on first use. */
  watcher?: (opts: WatcherOptions) => Promise<number>;
}

export interface DecodersHandlers {
  list(opts: DecodersListOptions, writeOut: (text: string) => void): Promise<number>;
  verify(opts: DecodersVerifyOptions, writeOut: (text: string) => void): Promise<number>;
}

/** Loaded on first use: `lightfoot --help` must not load prom-client or the decoder runtime. */
function defaultDecodersHandlers(): DecodersHandlers {
  const cmd = require('./decoders-command') as typeof import('./decoders-command');
  return {
    list: (o, writeOut) => cmd.decodersList(o, { writeOut }),
    verify: (o, writeOut) => cmd.decodersVerify(o, { writeOut }),
  };
}

export interface ProgramIO {
  writeOut?: (text: string) => void;
  writeErr?: (text: string) => void;
  /** Picks the default --log-format (pretty on a terminal). */
  stderrIsTTY?: boolean;
  /** Defaults to the version in package.json. */
  version?: string;
  /** LIGHTFOOT_DEBUG=1 adds stack traces to unexpected errors. */
  env?: NodeJS.ProcessEnv;
}

/** Exit code for bad command lines, as most Unix tools do. */
export const EXIT_USAGE = 2;

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

const RUN_EXAMPLES = `
Examples:
  # watch one process and everything later started as "nginx"
  sudo lightfoot run --pid 1234 --comm nginx

  # watch a systemd service through its cgroup (path from \`cat /proc/PID/cgroup\`)
  sudo lightfoot run --cgroup system.slice/nginx.service

  # watch every process, serve metrics on all interfaces, no event lines
  sudo lightfoot run --all --metrics-addr 0.0.0.0:9464 --no-events

  # pipe connection events (JSON lines) to jq; diagnostics stay on stderr
  sudo lightfoot run --comm curl | jq .

  # Kubernetes node daemon: pods come from the watcher through the control API
  sudo lightfoot run --control-addr 0.0.0.0:9465 --control-token-file /etc/lightfoot/token \\
    --pod-label app --log-format cloud --export-dir /var/log/lightfoot

  # add protocol decoders (every *.wasm in the directory), pinned by a config file
  sudo lightfoot run --comm nginx --decoders /etc/lightfoot/decoders --config /etc/lightfoot/decoders.json

Selectors can be repeated and combined (--pid, --comm, --cgroup); --all stands alone.
Metrics: http://HOST:PORT/metrics, health: http://HOST:PORT/healthz.
`;

const DOCTOR_EXAMPLES = `
Examples:
  # check kernel, privileges and eBPF features before running
  sudo lightfoot doctor

  # machine-readable report
  sudo lightfoot doctor --json
`;

const DECODERS_EXAMPLES = `
Examples:
  # what \`run\` would load: built-ins, a directory, a config file
  lightfoot decoders list --decoders ./decoders --config decoders.json

  # check one component against the WIT world and pin it
  lightfoot decoders verify http2.wasm --sha256 $(sha256sum http2.wasm | cut -d' ' -f1)
`;

const WATCHER_EXAMPLES = `
Examples:
  # in the cluster (the Helm chart runs it like this)
  lightfoot watcher --token-file /var/run/lightfoot/token --pod-label app

  # from a workstation, against the daemons of namespace lightfoot
  lightfoot watcher --kubeconfig ~/.kube/config --daemon-namespace lightfoot --token-file token

Pods opt in with the label lightfoot=enable (see --selector). Metrics: http://HOST:PORT/metrics.
`;

const ROOT_EXAMPLES = `
Examples:
  sudo lightfoot doctor
  sudo lightfoot run --comm nginx
  lightfoot run --help
`;

/**
 * Build the commander program. Errors are not printed here: they propagate
 * (exitOverride) so runCli can turn them into one line and an exit code.
 *
 * @example
 * const code = await runCli(process.argv.slice(2), { run: runDaemon, doctor: runDoctor });
 */
export function buildProgram(handlers: CommandHandlers, io: ProgramIO = {}): Command {
  const writeOut = io.writeOut ?? ((s: string) => void process.stdout.write(s));
  const writeErr = io.writeErr ?? ((s: string) => void process.stderr.write(s));

  const program = new Command('lightfoot')
    .description('eBPF transport monitor: TCP connection metrics and events for selected processes')
    .version(io.version ?? readVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .exitOverride()
    .configureOutput({ writeOut, writeErr, outputError: () => {} })
    .showSuggestionAfterError(true)
    .addHelpText('after', ROOT_EXAMPLES);

  program
    .command('run')
    .description('watch the TCP connections of selected processes (needs root)')
    .option('--pid <pid>', 'watch this process (repeatable, or comma-separated)', collect)
    .option('--comm <name>', 'watch processes with this command name, now and later (repeatable; max 15 bytes)', collect)
    .option('--cgroup <path>', 'watch processes in this cgroup v2 directory or below (repeatable)', collect)
    .option('--all', 'watch every process')
    .option('--metrics-addr <host:port>', `serve Prometheus metrics here; port 0 picks a free port (default: ${DEFAULTS.metricsAddr})`)
    .option('--log-format <format>', 'log and event line format: json, pretty or cloud (JSON with Google Cloud Logging fields) (default: pretty on a terminal, else json)')
    .option('--log-level <level>', `error, warn, info or debug (default: ${DEFAULTS.logLevel})`)
    .option('--max-series <n>', `label sets per metric before folding into "_overflow_" (default: ${DEFAULTS.maxSeries})`)
    .option('--flush-interval-ms <ms>', `report counters of long-lived connections this often (default: ${DEFAULTS.flushIntervalMs})`)
    .option('--rescan-interval-ms <ms>', `look for new and exited processes this often (default: ${DEFAULTS.rescanIntervalMs})`)
    .option('--ring-buffer-size <bytes>', 'BPF ring buffer size, a power of two from 64KiB to 1GiB (default: 8MiB)')
    .option('--no-events', 'do not write connection event lines to stdout')
    .option('--bpf-stats', 'measure the run time of each BPF program (lightfoot_bpf_program_*); adds ~50 ns to every probe hit')
    .option('--decoders <dir>', 'load every *.wasm protocol decoder in this directory (repeatable)', collect)
    .option('--config <file>', 'decoder config file (JSON: paths, sha256 pins, enabled, limits)')
    .option('--control-addr <host:port>', 'Kubernetes mode: serve the control API here, for the watcher (docs/control-api.md)')
    .option('--control-token-file <file>', 'bearer token the control API requires (needed with --control-addr)')
    .option('--control-tls-cert <file>', 'serve the control API over HTTPS with this PEM certificate (with --control-tls-key)')
    .option('--control-tls-key <file>', 'PEM private key of --control-tls-cert')
    .option('--node-name <name>', 'this node as the API server names it (default: $NODE_NAME, else the host name)')
    .option('--pod-label <key>', 'carry this pod label on metrics as label_<key> (repeatable)', collect)
    .option('--pid-label', 'keep the pid label on metrics in Kubernetes mode (off there by default: pids churn)')
    .option('--kube-cgroup-root <path>', "the kubelet's --cgroup-root (default: /)")
    .option('--export-dir <dir>', 'also write event and diagnostic lines to rotated files in this directory (events.log, lightfoot.log)')
    .option('--export-max-bytes <size>', `rotate an export file at this size (default: 64MiB)`)
    .option('--export-max-files <n>', `files kept per export, the active one included (default: ${DEFAULTS.exportMaxFiles})`)
    .option('--capture <probes>', "probes whose payload decoders may get: probe names (tcp: cleartext, every read/write syscall of every process is hooked; openssl: TLS plaintext), all or none (repeatable; default: openssl)", collect)
    .option('--capture-bytes <n>', 'payload bytes captured per call for stream decoders: TCP send/recv (at most 8191, default 4096), SSL_read/SSL_write (at most 262144, default 65536); the rest is counted as truncated')
    .addHelpText('after', RUN_EXAMPLES)
    .action(async (raw: RawRunOptions) => {
      const opts = parseRunOptions(raw, { stderrIsTTY: io.stderrIsTTY ?? process.stderr.isTTY === true });
      await handlers.run(opts);
    });

  program
    .command('doctor')
    .description('check that this host can run lightfoot and explain what is missing')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', DOCTOR_EXAMPLES)
    .action(async (raw: { json?: boolean }) => {
      await handlers.doctor({ json: raw.json === true });
    });

  program
    .command('inspect')
    .description('show what the planning probe modules would attach in a process or a binary, and why not')
    .argument('<pid|path>', 'a running process or an executable / shared library')
    .option('--json', 'print JSON')
    .action(async (target: string, raw: { json?: boolean }) => {
      const cmd = require('./inspect-command') as typeof import('./inspect-command');
      inspectCode = await cmd.inspect({ target, json: raw.json === true }, writeOut);
      });

  program
    .command('watcher')
    .description('Kubernetes: follow labelled pods and push each node daemon its desired set (leader-elected)')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: in-cluster ServiceAccount, else $KUBECONFIG or ~/.kube/config)')
    .option('--selector <labels>', `label selector of the pods to monitor (default: ${WATCHER_DEFAULTS.selector})`)
    .option('--namespace <ns>', 'only pods in this namespace (repeatable; default: every namespace)', collect)
    .option('--exclude-namespace <ns>', 'never pods in this namespace (repeatable)', collect)
    .option('--pod-label <key>', 'copy this pod label onto metrics (repeatable)', collect)
    .option('--daemon-selector <labels>', `label selector of the daemon pods (default: ${WATCHER_DEFAULTS.daemonSelector})`)
    .option('--daemon-namespace <ns>', 'namespace of the daemon pods and the Lease (default: $POD_NAMESPACE, else default)')
    .option('--daemon-port-name <name>', `container port of the daemon's control API (default: ${WATCHER_DEFAULTS.daemonPortName})`)
    .option('--daemon-tls', 'talk https to the daemons')
    .option('--daemon-ca <file>', 'PEM CA bundle that signed the daemons\' certificates (with --daemon-tls)')
    .option('--token-file <file>', 'bearer token of the daemons\' control API (required)')
    .option('--lease-name <name>', `Lease used for leader election (default: ${WATCHER_DEFAULTS.leaseName})`)
    .option('--lease-namespace <ns>', 'namespace of the Lease (default: --daemon-namespace)')
    .option('--lease-duration <s>', `seconds a leader holds the Lease without renewing (default: ${WATCHER_DEFAULTS.leaseDurationSeconds})`)
    .option('--renew-interval-ms <ms>', `how often the leader renews (default: ${WATCHER_DEFAULTS.renewIntervalMs})`)
    .option('--identity <id>', 'this replica\'s Lease holder identity (default: $POD_NAME or hostname, plus pid)')
    .option('--resync-interval-ms <ms>', `how often every daemon's applied version is checked (default: ${WATCHER_DEFAULTS.resyncIntervalMs})`)
    .option('--metrics-addr <host:port>', `serve /metrics, /healthz, /readyz here (default: ${WATCHER_DEFAULTS.metricsAddr})`)
    .option('--log-format <format>', 'json or pretty (default: pretty on a terminal, else json)')
    .option('--log-level <level>', 'error, warn, info or debug (default: info)')
    .addHelpText('after', WATCHER_EXAMPLES)
    .action(async (raw: RawWatcherOptions) => {
      const opts = parseWatcherOptions(raw, io.env ?? process.env, io.stderrIsTTY ?? process.stderr.isTTY === true);
      const run = handlers.watcher ?? (require('../watcher/watcher') as typeof import('../watcher/watcher')).runWatcher;
      await run(opts);
    });

  const decoders = program
    .command('decoders')
    .description('list or verify WebAssembly protocol decoders (no root needed)')
    .addHelpText('after', DECODERS_EXAMPLES);
  const decodersHandlers = (): DecodersHandlers => handlers.decoders ?? defaultDecodersHandlers();

  decoders
    .command('list')
    .description('load the decoders `run` would load and show name, version, sha256, subscriptions, state and faults')
    .option('--decoders <dir>', 'also every *.wasm in this directory (repeatable)', collect)
    .option('--config <file>', 'decoder config file (JSON)')
    .option('--json', 'print JSON')
    .action(async (raw: { decoders?: string[]; config?: string; json?: boolean }) => {
      const opts: DecodersListOptions = { decoderDirs: (raw.decoders ?? []).map(parseDecodersDir), json: raw.json === true };
      if (raw.config !== undefined) opts.configFile = parseConfigFile(raw.config);
      await decodersHandlers().list(opts, writeOut);
    });

  decoders
    .command('verify')
    .description('check a decoder component against the WIT world and print what it declares')
    .argument('<file>', 'the decoder component (.wasm)')
    .option('--sha256 <hex>', 'also require this sha256')
    .option('--json', 'print JSON')
    .action(async (file: string, raw: { sha256?: string; json?: boolean }) => {
      const opts: DecodersVerifyOptions = { file, json: raw.json === true };
      if (raw.sha256 !== undefined) opts.sha256 = raw.sha256;
      await decodersHandlers().verify(opts, writeOut);
    });

  return program;
}

/** Exit code of the last `inspect` (it needs no injected handler). */
let inspectCode: number | undefined;

/**
 * Parse `argv` (without node and script), run the command and return the exit
 * code. Never throws and never prints a stack trace for expected errors.
 */
export async function runCli(argv: readonly string[], handlers: CommandHandlers, io: ProgramIO = {}): Promise<number> {
  const writeErr = io.writeErr ?? ((s: string) => void process.stderr.write(s));
  let code = 0;
  inspectCode = undefined;
  const program = buildProgram(
    {
      run: async (o) => (code = await handlers.run(o)),
      doctor: async (o) => (code = await handlers.doctor(o)),
      watcher: async (o) => (code = await (handlers.watcher ?? (require('../watcher/watcher') as typeof import('../watcher/watcher')).runWatcher)(o)),
      decoders: {
        list: async (o, w) => (code = await (handlers.decoders ?? defaultDecodersHandlers()).list(o, w)),
        verify: async (o, w) => (code = await (handlers.decoders ?? defaultDecodersHandlers()).verify(o, w)),
      },
    },
    io,
  );
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return inspectCode ?? code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through exitOverride with exit code 0.
      if (err.exitCode === 0) return 0;
      // No command: commander already printed the help on stderr.
      if (err.code === 'commander.help') return EXIT_USAGE;
      const message = err.message
        .replace(/^error: /, '')
        .replace(/\s*\n?\(Did you mean (.*)\?\)/, '; did you mean $1?');
      writeErr(formatErrorLine(new UsageError(message, { hint: `see \`${helpCommand(argv, program)}\`` })) + '\n');
      return EXIT_USAGE;
    }
    writeErr(formatErrorLine(err) + '\n');
    if (!(err instanceof LightfootError) && (io.env ?? process.env).LIGHTFOOT_DEBUG && err instanceof Error) {
      writeErr(`${err.stack ?? ''}\n`);
    }
    return exitCodeFor(err);
  }
}

function helpCommand(argv: readonly string[], program: Command): string {
  const names = new Set(program.commands.map((c) => c.name()));
  const sub = argv.find((a) => !a.startsWith('-'));
  return sub !== undefined && names.has(sub) ? `lightfoot ${sub} --help` : 'lightfoot --help';
}

/** Version from the nearest package.json named "lightfoot" (works from src and dist). */
export function readVersion(start: string = __dirname): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'lightfoot' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // no package.json here; keep walking up
    }
    if (path.dirname(dir) === dir) return '0.0.0-unknown';
  }
}
