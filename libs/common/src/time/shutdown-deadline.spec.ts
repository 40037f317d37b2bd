import { ShutdownDeadline } from './shutdown-deadline';

describe('ShutdownDeadline', () => {
  const never = new Promise<void>(() => undefined);

  it('should wait for the work itself while no shutdown has started', async () => {
    const deadline = new ShutdownDeadline();
    await expect(deadline.within(Promise.resolve())).resolves.toBe(true);
    await expect(deadline.within(Promise.reject(new Error('failed')))).resolves.toBe(true);
  });

  it('should stop waiting at the deadline for work that does not end', async () => {
    const deadline = new ShutdownDeadline();
    deadline.start(10);
    // before: never (the jest timeout fails the test)
    await expect(deadline.within(never)).resolves.toBe(false);
    // work that ends in time is waited for
    await expect(deadline.within(Promise.resolve())).resolves.toBe(true);
  });

  it('should keep the first deadline when started again', async () => {
    const deadline = new ShutdownDeadline();
    deadline.start(10);
    deadline.start(3_600_000);
    await expect(deadline.within(never)).resolves.toBe(false);
  });
});
