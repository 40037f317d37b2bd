import { PeriodicTask } from './periodic-task';

describe('PeriodicTask', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  function setup(run: () => Promise<unknown>) {
    const errors: unknown[][] = [];
    const sut = new PeriodicTask({
      name: 'Test sweep',
      everyMs: 1000,
      run,
      logger: { error: (...args: unknown[]) => void errors.push(args) },
    });
    return { sut, errors };
  }

  it('should run every interval once started and not before', async () => {
    const run = jest.fn().mockResolvedValue(3);
    const { sut } = setup(run);
    await jest.advanceTimersByTimeAsync(5000);
    expect(run).not.toHaveBeenCalled();
    sut.start();
    await jest.advanceTimersByTimeAsync(3000);
    expect(run).toHaveBeenCalledTimes(3);
    await sut.stop();
    await jest.advanceTimersByTimeAsync(3000);
    expect(run).toHaveBeenCalledTimes(3);
  });

  it('should log a failed run and keep running', async () => {
    const failure = new Error('store down');
    const run = jest.fn().mockRejectedValueOnce(failure).mockResolvedValue(0);
    const { sut, errors } = setup(run);
    sut.start();
    await jest.advanceTimersByTimeAsync(2000);
    expect(run).toHaveBeenCalledTimes(2);
    expect(errors).toEqual([[{ err: failure }, 'Test sweep failed']]);
    await sut.stop();
  });

  it('should never overlap runs and let stop wait for the one in progress', async () => {
    let finish!: () => void;
    const run = jest.fn(() => new Promise<void>((resolve) => (finish = resolve)));
    const { sut } = setup(run);
    const first = sut.runNow();
    const second = sut.runNow();
    expect(second).toBe(first);
    await Promise.resolve();
    expect(run).toHaveBeenCalledTimes(1);
    let stopped = false;
    const stopping = sut.stop().then(() => (stopped = true));
    await Promise.resolve();
    expect(stopped).toBe(false);
    finish();
    await stopping;
    expect(stopped).toBe(true);
  });

  it('should not keep the process alive', async () => {
    const setInterval = jest.spyOn(global, 'setInterval');
    const { sut } = setup(async () => undefined);
    sut.start();
    const timer = setInterval.mock.results[0].value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    await sut.stop();
    setInterval.mockRestore();
  });
});
