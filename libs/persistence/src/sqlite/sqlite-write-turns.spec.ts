import { SqliteWriteTurns } from './sqlite-write-turns';

/** A write, a held write and a write, asked in that order; each notes its name in `order`. */
const queueThree = (turns: SqliteWriteTurns, order: string[]) => [
  turns.write(() => order.push('first')),
  turns.hold(async () => {
    order.push('second (held)');
  }),
  turns.write(() => order.push('third')),
];

describe('SqliteWriteTurns', () => {
  it('should run an uncontended write at once, in the caller’s tick', () => {
    const turns = new SqliteWriteTurns();
    let ran = false;
    void turns.write(() => (ran = true));
    expect(ran).toBe(true);
  });

  it('should hold writes while another thread’s write runs, then give turns in the order asked', async () => {
    const turns = new SqliteWriteTurns();
    const order: string[] = [];
    let finishAppend!: () => void;
    const append = turns.hold(
      () =>
        new Promise<void>((resolve) => {
          finishAppend = () => {
            order.push('append');
            resolve();
          };
        }),
    );
    const [first, second, third] = queueThree(turns, order);
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual([]);
    finishAppend();
    await Promise.all([append, first, second, third]);
    expect(order).toEqual(['append', 'first', 'second (held)', 'third']);
  });

  it('should pass the turn on when a write throws', async () => {
    const turns = new SqliteWriteTurns();
    const failing = turns.hold(async () => {
      throw new Error('SQLITE_FULL');
    });
    const next = turns.write(() => 'written');
    await expect(failing).rejects.toThrow('SQLITE_FULL');
    await expect(next).resolves.toBe('written');
    await expect(
      turns.write(() => {
        throw new Error('constraint');
      }),
    ).rejects.toThrow('constraint');
    let ran = false;
    void turns.write(() => (ran = true));
    expect(ran).toBe(true);
  });

  it('should keep every writer waiting, in order, while a pause asked for by `pace` lasts', async () => {
    let resume!: () => void;
    let pause: Promise<void> | undefined = new Promise<void>((resolve) => (resume = resolve));
    const asked: string[] = [];
    const turns = new SqliteWriteTurns(() => {
      asked.push('pace');
      const now = pause;
      pause = undefined;
      return now;
    });
    const order: string[] = [];
    const [first, second, third] = queueThree(turns, order);
    await new Promise((resolve) => setImmediate(resolve));
    // the first writer holds the turn through the pause: no one writes meanwhile
    expect(order).toEqual([]);
    expect(asked).toEqual(['pace']);
    resume();
    await Promise.all([first, second, third]);
    expect(order).toEqual(['first', 'second (held)', 'third']);
    // asked once per turn; no pause: the write runs at once, in the caller's tick
    expect(asked).toHaveLength(3);
    let ran = false;
    void turns.write(() => (ran = true));
    expect(ran).toBe(true);
  });
});
