import { KeyedTurns } from './keyed-turns';

/** A promise and its resolve, to hold a turn open until the test lets it end. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe('KeyedTurns', () => {
  it('should run the turns of one key one at a time, in the order asked', async () => {
    const turns = new KeyedTurns();
    const log: string[] = [];
    const first = gate();
    const a = turns.run('site', async () => {
      log.push('a start');
      await first.opened;
      log.push('a end');
    });
    const b = turns.run('site', async () => {
      log.push('b');
    });
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['a start']);
    first.open();
    await Promise.all([a, b]);
    expect(log).toEqual(['a start', 'a end', 'b']);
  });

  it('should run turns of different keys side by side', async () => {
    const turns = new KeyedTurns();
    const held = gate();
    const log: string[] = [];
    const a = turns.run('one', async () => {
      await held.opened;
      log.push('one');
    });
    await turns.run('two', async () => {
      log.push('two');
    });
    expect(log).toEqual(['two']);
    held.open();
    await a;
  });

  it('should let the next turn run after a turn fails, and give the failure to its caller', async () => {
    const turns = new KeyedTurns();
    const failed = turns.run('site', () => Promise.reject(new Error('store lost')));
    const next = turns.run('site', () => Promise.resolve(7));
    await expect(failed).rejects.toThrow('store lost');
    await expect(next).resolves.toBe(7);
  });

  it('should run a turn beside one that outlasts maxWaitMs, and keep the order after it', async () => {
    const turns = new KeyedTurns(20);
    const stalled = gate();
    const log: string[] = [];
    const a = turns.run('site', async () => {
      await stalled.opened;
      log.push('a');
    });
    await turns.run('site', async () => {
      log.push('b');
    });
    // b did not wait for a, stalled until now; c waits for b's turn as usual
    const c = turns.run('site', async () => {
      log.push('c');
    });
    await c;
    expect(log).toEqual(['b', 'c']);
    stalled.open();
    await a;
    expect(log).toEqual(['b', 'c', 'a']);
  });

  it('should count maxWaitMs from when the turn ahead started, not from the caller asking', async () => {
    jest.useFakeTimers();
    try {
      const turns = new KeyedTurns(100);
      const gates = [gate(), gate(), gate()];
      const log: string[] = [];
      const all = ['a', 'b', 'c'].map((name, i) =>
        turns.run('site', async () => {
          log.push(`${name} start`);
          await gates[i].opened;
          log.push(`${name} end`);
        }),
      );
      await jest.advanceTimersByTimeAsync(80);
      gates[0].open();
      // c asked 160 ms ago, but b started only 80 ms ago: c still waits
      await jest.advanceTimersByTimeAsync(80);
      expect(log).toEqual(['a start', 'a end', 'b start']);
      // b stalled past 100 ms: c runs beside it
      await jest.advanceTimersByTimeAsync(30);
      expect(log).toEqual(['a start', 'a end', 'b start', 'c start']);
      gates[1].open();
      gates[2].open();
      await Promise.all(all);
    } finally {
      jest.useRealTimers();
    }
  });

  it('should wait for a slow turn without maxWaitMs', async () => {
    const turns = new KeyedTurns();
    const held = gate();
    const log: string[] = [];
    const a = turns.run('site', async () => {
      await new Promise((r) => setTimeout(r, 50));
      await held.opened;
      log.push('a');
    });
    const b = turns.run('site', async () => {
      log.push('b');
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(log).toEqual([]);
    held.open();
    await Promise.all([a, b]);
    expect(log).toEqual(['a', 'b']);
  });

  it('should keep nothing for a key once its turns ended', async () => {
    const turns = new KeyedTurns();
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => turns.run(`k${i % 5}`, () => Promise.resolve())),
    );
    await Promise.all(Array.from({ length: 5 }, (_, i) => turns.idle(`k${i}`)));
    await new Promise((r) => setImmediate(r));
    expect((turns as unknown as { tails: Map<string, unknown> }).tails.size).toBe(0);
  });
});
