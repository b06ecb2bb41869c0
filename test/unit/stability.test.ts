import { describe, expect, it } from 'vitest';
import { assess, type Observation, type Tracked } from '../../src/watchers/stability.js';

const obs = (size: number, mtimeNs: bigint, ctimeNs = mtimeNs): Observation => ({ size, mtimeNs, ctimeNs });
const opts = { stableMs: 1000, trustRename: true };

describe('stability: when is a dropped file complete', () => {
  const cases: {
    name: string;
    prev?: Tracked;
    obs: Observation;
    now: number;
    o?: typeof opts;
    ready: boolean;
    why: string;
  }[] = [
    { name: 'first sight, written in place', obs: obs(10, 5n), now: 0, ready: false, why: 'waiting' },
    {
      name: 'arrived by rename (ctime after mtime)',
      obs: obs(10, 5n, 9n),
      now: 0,
      ready: true,
      why: 'renamed',
    },
    {
      name: 'rename of an empty file waits for the window',
      obs: obs(0, 5n, 9n),
      now: 0,
      ready: false,
      why: 'waiting',
    },
    {
      name: 'rename not trusted when disabled',
      obs: obs(10, 5n, 9n),
      now: 0,
      o: { stableMs: 1000, trustRename: false },
      ready: false,
      why: 'waiting',
    },
    {
      name: 'unchanged for the whole window',
      prev: { size: 10, mtimeNs: 5n, since: 0 },
      obs: obs(10, 5n),
      now: 1000,
      ready: true,
      why: 'stable',
    },
    {
      name: 'unchanged but window not over',
      prev: { size: 10, mtimeNs: 5n, since: 0 },
      obs: obs(10, 5n),
      now: 999,
      ready: false,
      why: 'waiting',
    },
    {
      name: 'grew: window restarts',
      prev: { size: 10, mtimeNs: 5n, since: 0 },
      obs: obs(20, 5n),
      now: 1500,
      ready: false,
      why: 'waiting',
    },
    {
      name: 'same size, new mtime: window restarts',
      prev: { size: 10, mtimeNs: 5n, since: 0 },
      obs: obs(10, 6n),
      now: 1500,
      ready: false,
      why: 'waiting',
    },
    {
      name: 'zero window: ready at once',
      obs: obs(10, 5n),
      now: 0,
      o: { stableMs: 0, trustRename: false },
      ready: true,
      why: 'stable',
    },
  ];
  it.each(cases)('$name', (c) => {
    const a = assess(c.prev, c.obs, c.now, c.o ?? opts);
    expect(a.ready).toBe(c.ready);
    expect(a.why).toBe(c.why);
    if (!a.ready) expect(a.recheckAt).toBe(a.tracked.since + (c.o ?? opts).stableMs);
  });

  it('a change resets the window start to now', () => {
    const a = assess({ size: 10, mtimeNs: 5n, since: 0 }, obs(11, 7n), 400, opts);
    expect(a.tracked).toEqual({ size: 11, mtimeNs: 7n, since: 400 });
    expect(a.recheckAt).toBe(1400);
  });
});
