/**
 * The packaging files: the systemd unit (checked by systemd-analyze itself, and line by line for
 * the hardening it promises), the Dockerfile (statically: no docker daemon is needed), and the
 * image's HEALTHCHECK command run against a real daemon.
 */
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, runCli, waitForEvent, writeDaemonConfig } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const t = tempDir('fatturad-packaging-');
afterAll(() => t.cleanup());

const UNIT_FILE = path.join(ROOT, 'config', 'fatturad.service');
const DOCKERFILE = path.join(ROOT, 'Dockerfile');
const DOCKERIGNORE = path.join(ROOT, '.dockerignore');

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function exec(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeout?: number; cwd?: string } = {},
): Promise<Outcome> {
  try {
    const r = await run(cmd, args, {
      env: { ...process.env, ...opts.env },
      timeout: opts.timeout ?? 30_000,
      cwd: opts.cwd ?? t.dir,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    if (typeof e.code !== 'number') throw err; // not started (ENOENT) or killed by the timeout
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

// --- systemd unit ------------------------------------------------------------------------------

/** A unit file as systemd reads it: sections of keys, each with every value it was given. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0 || !current) throw new Error(`not a unit file line: ${line}`);
    const key = line.slice(0, eq).trim();
    const values = current.get(key) ?? [];
    values.push(line.slice(eq + 1).trim());
    current.set(key, values);
  }
  return sections;
}

const unitText = fs.readFileSync(UNIT_FILE, 'utf8');
const unit = parseUnit(unitText);
const values = (section: string, key: string): string[] => unit.get(section)?.get(key) ?? [];
/** The effective value of a key given once (the last assignment wins in systemd). */
const value = (section: string, key: string): string | undefined => values(section, key).at(-1);

function systemdAnalyze(): string {
  const found = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' });
  const bin = found.stdout.trim();
  if (found.status !== 0 || !bin) {
    throw new Error(
      'systemd-analyze is not installed: it comes with the Debian package "systemd" ' +
        '(apt-get install --no-install-recommends systemd); the unit file cannot be verified without it',
    );
  }
  return bin;
}

/** The unit with ExecStart pointing at this machine's node and this checkout's build. */
function testableUnit(): string {
  const dir = path.join(t.dir, 'unit');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'fatturad.service');
  const execStart = /^ExecStart=\/usr\/bin\/node \/opt\/fatturad\/dist\/cli\.js (.*)$/m;
  expect(unitText).toMatch(execStart);
  fs.writeFileSync(file, unitText.replace(execStart, `ExecStart=${process.execPath} ${CLI} $1`));
  return file;
}

describe('systemd unit (config/fatturad.service)', () => {
  it('systemd-analyze verify accepts it without a warning', async () => {
    const bin = systemdAnalyze();
    expect(fs.existsSync(CLI), `${CLI} is missing: build first (npm test does)`).toBe(true);
    const file = testableUnit();
    const r = await exec(bin, ['verify', '--man=no', file], { env: { SYSTEMD_LOG_LEVEL: 'info' } });
    // verify also loads the units this one names (network-online.target...); only lines about
    // this file count.
    const ours = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes('fatturad.service'));
    expect(ours, ours.join('\n')).toEqual([]);
    expect(r.code, r.stderr).toBe(0);
  });

  it('systemd-analyze security rates its exposure OK (below 3.0)', async () => {
    const bin = systemdAnalyze();
    const file = testableUnit();
    const r = await exec(bin, ['security', '--offline=yes', '--no-pager', file]);
    const m = /Overall exposure level for fatturad\.service: (\d+(?:\.\d+)?) (\S+)/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    const score = Number(m![1]);
    console.log(`systemd-analyze security: exposure ${score} ${m![2]}`);
    expect(score).toBeLessThan(3.0);
    expect(m![2]).toBe('OK');
  });

  const expected: [section: string, key: string, want: string][] = [
    ['Unit', 'StartLimitIntervalSec', '300'],
    ['Unit', 'StartLimitBurst', '5'],
    ['Service', 'Type', 'simple'],
    ['Service', 'User', 'fatturad'],
    ['Service', 'Group', 'fatturad'],
    [
      'Service',
      'ExecStart',
      '/usr/bin/node /opt/fatturad/dist/cli.js start --config /etc/fatturad/config.yaml',
    ],
    ['Service', 'ExecReload', '/bin/kill -HUP $MAINPID'],
    ['Service', 'Restart', 'on-failure'],
    ['Service', 'RestartSec', '5'],
    // exit codes of src/cli.ts: 3 invalid configuration, 4 already running, 5 store damaged
    ['Service', 'RestartPreventExitStatus', '3 4 5'],
    ['Service', 'KillSignal', 'SIGTERM'],
    // above the daemon's own 20 s stop deadline
    ['Service', 'TimeoutStopSec', '30'],
    ['Service', 'StateDirectory', 'fatturad'],
    ['Service', 'ConfigurationDirectory', 'fatturad'],
    ['Service', 'WorkingDirectory', '/var/lib/fatturad'],
    ['Service', 'EnvironmentFile', '-/etc/fatturad/fatturad.env'],
    ['Service', 'UMask', '0027'],
    ['Service', 'LimitNOFILE', '65536'],
    ['Service', 'NoNewPrivileges', 'yes'],
    ['Service', 'ProtectSystem', 'strict'],
    ['Service', 'ProtectHome', 'yes'],
    ['Service', 'PrivateTmp', 'yes'],
    ['Service', 'PrivateDevices', 'yes'],
    ['Service', 'ProtectKernelTunables', 'yes'],
    ['Service', 'ProtectKernelModules', 'yes'],
    ['Service', 'ProtectKernelLogs', 'yes'],
    ['Service', 'ProtectControlGroups', 'yes'],
    ['Service', 'ProtectClock', 'yes'],
    ['Service', 'ProtectHostname', 'yes'],
    ['Service', 'ProtectProc', 'invisible'],
    ['Service', 'RestrictAddressFamilies', 'AF_UNIX AF_INET AF_INET6'],
    ['Service', 'RestrictNamespaces', 'yes'],
    ['Service', 'RestrictRealtime', 'yes'],
    ['Service', 'RestrictSUIDSGID', 'yes'],
    ['Service', 'LockPersonality', 'yes'],
    // V8's JIT needs writable and executable memory
    ['Service', 'MemoryDenyWriteExecute', 'no'],
    ['Service', 'SystemCallArchitectures', 'native'],
    ['Service', 'SystemCallErrorNumber', 'EPERM'],
    ['Service', 'CapabilityBoundingSet', ''],
    ['Service', 'AmbientCapabilities', ''],
    ['Install', 'WantedBy', 'multi-user.target'],
  ];
  it.each(expected)('[%s] %s=%s', (section, key, want) => {
    expect(value(section, key)).toBe(want);
  });

  it('system calls: @system-service without @privileged and @resources, plus @pkey for V8', () => {
    expect(values('Service', 'SystemCallFilter')).toEqual([
      '@system-service',
      '~@privileged @resources',
      '@pkey',
    ]);
  });

  it('writes only to its state folder; reads its configuration; NODE_ENV=production', () => {
    expect(values('Service', 'ReadWritePaths')).toEqual(['/var/lib/fatturad']);
    expect(values('Service', 'ReadOnlyPaths')).toEqual(['/etc/fatturad']);
    expect(values('Service', 'Environment')).toContain('NODE_ENV=production');
    // the commented examples an administrator enables
    expect(unitText).toMatch(/^#LoadCredential=pec-password:/m);
    expect(unitText).toMatch(/^#Environment=FATTURAD_CHANNEL__PEC__SMTP__PASSWORD_FILE=%d\/pec-password$/m);
    expect(unitText).toMatch(/^#AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
    expect(unitText).toMatch(/^#ReadWritePaths=/m);
  });

  it('never runs as root', () => {
    expect(unitText).not.toMatch(/^\s*(User|Group)\s*=\s*(root|0)\s*$/m);
    expect(values('Service', 'User')).toHaveLength(1);
    expect(values('Service', 'DynamicUser')).toEqual([]);
    expect(values('Service', 'PermissionsStartOnly')).toEqual([]);
    // "+" or "!" before an Exec path would run that command with full privileges
    for (const key of ['ExecStart', 'ExecStartPre', 'ExecStartPost', 'ExecReload', 'ExecStop'])
      for (const v of values('Service', key)) expect(v).not.toMatch(/^[-@:]*[+!]/);
  });
});

// --- Dockerfile --------------------------------------------------------------------------------

interface Instruction {
  op: string;
  args: string;
  stage: number;
}

/** Dockerfile instructions, continuation lines joined and comments dropped, by build stage. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  let pending = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw)) continue;
    // a continued line joins the previous one with one space (its indentation dropped)
    const line = pending ? pending + raw.trimStart() : raw;
    if (/\\\s*$/.test(line)) {
      pending = line.replace(/\s*\\\s*$/, ' ');
      continue;
    }
    pending = '';
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    if (op === 'FROM') stage++;
    out.push({ op, args: m[2]!.trim(), stage });
  }
  return out;
}

const dockerText = fs.readFileSync(DOCKERFILE, 'utf8');
const docker = parseDockerfile(dockerText);
const froms = docker.filter((i) => i.op === 'FROM');
const finalStage = froms.length - 1;
const final = docker.filter((i) => i.stage === finalStage);
const execForm = (i: Instruction | undefined): string[] =>
  JSON.parse(i?.args.replace(/^.*?CMD\s+(?=\[)/, '') ?? 'null') as string[];

/** The shell command that writes the image's baseline /etc/fatturad/config.yaml. */
function baselineConfigCommand(): string {
  const m = /(printf '%s\\n' .*?)> \/etc\/fatturad\/config\.yaml/.exec(final.map((i) => i.args).join('\n'));
  expect(m, 'the final stage writes /etc/fatturad/config.yaml with printf').not.toBeNull();
  return m![1]!;
}

describe('Dockerfile', () => {
  it('has a build stage and a runtime stage on the same pinned Node 20 image', () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    const arg = /ARG NODE_IMAGE=(\S+)/.exec(dockerText);
    expect(arg).not.toBeNull();
    // a version tag, never latest or a bare major
    expect(arg![1]).toMatch(/^node:20\.\d+(\.\d+)?-bookworm-slim(@sha256:[0-9a-f]{64})?$/);
    expect(froms[0]!.args).toMatch(/^\$\{NODE_IMAGE\} AS build$/);
    expect(froms[finalStage]!.args).toBe('${NODE_IMAGE}');
  });

  it('installs with npm ci from the lock file, builds, and drops the development dependencies', () => {
    const build = docker.filter((i) => i.stage === 0 && i.op === 'RUN').map((i) => i.args);
    expect(build.some((r) => /\bnpm ci\b/.test(r))).toBe(true);
    expect(dockerText).not.toMatch(/\bnpm (install|i)\b/);
    expect(build.some((r) => /\bnpm run build\b/.test(r))).toBe(true);
    expect(build.some((r) => /\bnpm prune --omit=dev\b/.test(r))).toBe(true);
    expect(docker.some((i) => i.op === 'COPY' && /package-lock\.json/.test(i.args))).toBe(true);
    // the runtime stage has no compilers and takes only the build's output
    expect(final.filter((i) => i.op === 'RUN').some((r) => /apt-get|npm /.test(r.args))).toBe(false);
    const copies = final.filter((i) => i.op === 'COPY').map((i) => i.args);
    expect(copies.every((c) => c.startsWith('--from=build '))).toBe(true);
    for (const what of ['dist', 'node_modules', 'config', 'package.json'])
      expect(copies.some((c) => c.includes(`/src/${what} `))).toBe(true);
  });

  it('runs as a non-root user in the final stage', () => {
    const users = final.filter((i) => i.op === 'USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users.at(-1)!.args;
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(user).toBe('10001:10001');
    expect(dockerText).toMatch(/useradd --system --uid 10001 --gid fatturad/);
  });

  it('checks /healthz, declares the volumes, the port, the stop signal and the entry point', () => {
    const hc = final.find((i) => i.op === 'HEALTHCHECK');
    expect(hc?.args).toMatch(/--interval=30s --timeout=5s --start-period=30s --retries=3 CMD \[/);
    expect(execForm(hc).join(' ')).toMatch(/http:\/\/127\.0\.0\.1:.*\/healthz/);
    const volumes = final.filter((i) => i.op === 'VOLUME').flatMap((i) => JSON.parse(i.args) as string[]);
    expect(volumes).toEqual(expect.arrayContaining(['/var/lib/fatturad', '/etc/fatturad']));
    expect(final.find((i) => i.op === 'EXPOSE')?.args).toBe('9470');
    expect(final.find((i) => i.op === 'STOPSIGNAL')?.args).toBe('SIGTERM');
    expect(JSON.parse(final.find((i) => i.op === 'ENTRYPOINT')!.args)).toEqual(['node', '/app/dist/cli.js']);
    expect(JSON.parse(final.find((i) => i.op === 'CMD')!.args)).toEqual(['start']);
    const env = final
      .filter((i) => i.op === 'ENV')
      .map((i) => i.args)
      .join(' ');
    expect(env).toContain('FATTURAD_DATA_DIR=/var/lib/fatturad');
    expect(env).toContain('FATTURAD_HTTP__HOST=0.0.0.0');
    expect(env).toContain('FATTURAD_CONFIG=/etc/fatturad/config.yaml');
  });

  it('carries no secret: no password variables, no keys or env files copied in', () => {
    for (const i of docker.filter((x) => x.op === 'ENV' || x.op === 'ARG')) {
      expect(i.args).not.toMatch(/(PASSWORD|PASSPHRASE|SECRET|TOKEN|PRIVATE|_KEY)\w*\s*=/i);
    }
    for (const i of docker.filter((x) => x.op === 'COPY' || x.op === 'ADD')) {
      expect(i.args).not.toMatch(/\.(env|key|pem|p12|pfx|jks)\b|\.npmrc/);
    }
    expect(docker.some((i) => i.op === 'ADD')).toBe(false);
  });

  it('.dockerignore lets in exactly what the build stage copies from the context', () => {
    const rules = fs
      .readFileSync(DOCKERIGNORE, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(rules[0]).toBe('*'); // an allow-list: node_modules, dist, var, .git... stay out
    const allowed = rules.filter((r) => r.startsWith('!')).map((r) => r.slice(1).replace(/\/$/, ''));
    for (const out of ['node_modules', 'dist', 'var', '.git', 'test', 'coverage', '.tmp'])
      expect(allowed.some((a) => a === out || a.startsWith(`${out}/`))).toBe(false);
    const sources = docker
      .filter((i) => i.op === 'COPY' && !i.args.startsWith('--from='))
      .flatMap((i) => i.args.split(' ').slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) {
      const s = src.replace(/\/$/, '');
      expect(
        allowed.some((a) => a === s || a.startsWith(`${s}/`)),
        `${src} is copied but not allowed in .dockerignore`,
      ).toBe(true);
      expect(fs.existsSync(path.join(ROOT, s)), `${src} exists`).toBe(true);
    }
  });

  it("the image's baseline configuration is valid (no exit 3 on a first run)", async () => {
    const out = await exec('sh', ['-c', baselineConfigCommand()]);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^dataDir: \/var\/lib\/fatturad$/m);
    expect(out.stdout).toMatch(/^intake:\n {2}folders:\n {4}- path: \/var\/lib\/fatturad\/outbox$/m);
    const file = path.join(t.dir, 'image-config.yaml');
    fs.writeFileSync(file, out.stdout);
    const r = await exec(process.execPath, [CLI, 'config', 'check', file], {
      env: { FATTURAD_DATA_DIR: '/var/lib/fatturad', FATTURAD_HTTP__HOST: '0.0.0.0' },
    });
    expect(r.code, r.stderr).toBe(0);
    const resolved = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as {
      dataDir: string;
      http: { host: string; port: number };
      log: { format: string };
    };
    expect(resolved.dataDir).toBe('/var/lib/fatturad');
    expect(resolved.http).toMatchObject({ host: '0.0.0.0', port: 9470 });
    expect(resolved.log.format).toBe('json');
  });

  it('the HEALTHCHECK command exits 0 against a running daemon and 1 once it is stopped', async () => {
    const hc = execForm(final.find((i) => i.op === 'HEALTHCHECK'));
    expect(hc[0]).toBe('node');
    const dir = path.join(t.dir, 'health');
    const outbox = path.join(dir, 'outbox');
    fs.mkdirSync(outbox, { recursive: true });
    const cfg = writeDaemonConfig(dir, outbox);
    const logFile = path.join(dir, 'daemon.log');
    const d = runCli(['start', '--config', cfg], logFile);
    try {
      const listening = await waitForEvent(logFile, 'http.listening');
      const port = String(listening.port);
      const check = (): Promise<Outcome> =>
        exec(process.execPath, hc.slice(1), { env: { FATTURAD_HTTP__PORT: port }, timeout: 5_000 });
      await waitForEvent(logFile, 'daemon.ready');
      expect((await check()).code).toBe(0);
      d.child.kill('SIGTERM');
      expect((await d.exited).code).toBe(0);
      expect((await check()).code).toBe(1);
    } finally {
      if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
    }
  });
});
