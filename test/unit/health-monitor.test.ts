import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { Conditions } from '../../src/health/conditions.js';
import { DISK_CHECK, HealthMonitor, STORE_CHECK, type DiskSpace } from '../../src/health/monitor.js';
import { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The health monitor's conditions: each is one failing check while it lasts, logged once when it
 * starts (and if its kind changes) and once when it ends, however many looks happen meanwhile.
 */
const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function setup(space: () => DiskSpace) {
  const t = tempDir('fatturad-health-monitor-');
  const config = loadConfig({ env: { FATTURAD_DATA_DIR: t.dir }, cwd: t.dir });
  config.health = { checkMs: 3_600_000, minFreeBytes: 1000, minFreePercent: 10 };
  const store = new Store(config.paths.db);
  let failing: Error | null = null;
  // The real store; its commit made to fail on demand, as a full disk would.
  const probeStore = new Proxy(store, {
    get(target, prop, receiver) {
      const err = failing;
      if (prop === 'setChannelState' && err)
        return () => {
          throw err;
        };
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  const lines: { event?: string; [k: string]: unknown }[] = [];
  const log = pino(
    { level: 'info' },
    { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) },
  );
  const monitor = new HealthMonitor(
    config,
    () => probeStore,
    log,
    async () => space(),
  );
  cleanups.push(
    () => void monitor.stop(),
    () => store.close(),
    () => t.cleanup(),
  );
  const count = (e: string) => lines.filter((l) => l.event === e).length;
  return { monitor, store, count, lines, fail: (e: Error | null) => (failing = e) };
}

describe('health monitor', () => {
  it('the data folder: low below either threshold, full at zero, ok again; one event per change', async () => {
    let space: DiskSpace = { free: 50_000, total: 100_000 };
    const { monitor, count, lines } = setup(() => space);
    await monitor.check();
    expect(monitor.conditions.get(DISK_CHECK)).toBeUndefined();
    space = { free: 9_000, total: 100_000 }; // under 10 %
    for (let i = 0; i < 5; i++) await monitor.check();
    expect(monitor.conditions.get(DISK_CHECK)?.kind).toBe('low');
    expect(count('health.disk_low')).toBe(1);
    space = { free: 0, total: 100_000 };
    for (let i = 0; i < 5; i++) await monitor.check();
    expect(monitor.conditions.get(DISK_CHECK)?.detail).toMatch(/is full/);
    expect(count('health.disk_low')).toBe(2);
    expect(lines.filter((l) => l.event === 'health.disk_low').map((l) => l.state)).toEqual(['low', 'full']);
    space = { free: 900, total: 1_000_000_000 }; // under minFreeBytes
    await monitor.check();
    expect(monitor.conditions.get(DISK_CHECK)?.kind).toBe('low');
    space = { free: 60_000, total: 100_000 };
    for (let i = 0; i < 5; i++) await monitor.check();
    expect(monitor.conditions.get(DISK_CHECK)).toBeUndefined();
    expect(count('health.disk_ok')).toBe(1);
    expect(count('health.disk_low')).toBe(3);
  });

  it('a store that cannot commit: one event when it starts, one when it ends', async () => {
    const { monitor, count, fail, store } = setup(() => ({ free: 1e9, total: 2e9 }));
    await monitor.check();
    expect(store.getChannelState('health.probe')).toBeDefined();
    fail(Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }));
    for (let i = 0; i < 5; i++) await monitor.check();
    expect(monitor.conditions.get(STORE_CHECK)?.detail).toMatch(/cannot commit: database or disk is full/);
    expect(count('health.store_commit_failed')).toBe(1);
    fail(null);
    for (let i = 0; i < 5; i++) await monitor.check();
    expect(monitor.conditions.get(STORE_CHECK)).toBeUndefined();
    expect(count('health.store_commit_ok')).toBe(1);
    expect(count('health.store_commit_failed')).toBe(1);
  });

  it('conditions: a change of detail alone is no change', () => {
    const c = new Conditions();
    expect(c.update('x', { kind: 'low', detail: '5 MB free' })).toBe('started');
    expect(c.update('x', { kind: 'low', detail: '4 MB free' })).toBeNull();
    expect(c.get('x')?.detail).toBe('4 MB free');
    expect(c.update('x', { kind: 'full', detail: '0 free' })).toBe('changed');
    expect(c.update('x', null)).toBe('ended');
    expect(c.update('x', null)).toBeNull();
  });
});
