import { Logger } from '@nestjs/common';
import { startTestApp, TestApp } from './support/test-app';

/**
 * The harness itself: each server a spec starts sees its own log lines in `t.logs()`, those
 * logged outside a request (its start's, its close's) included, however many servers the file
 * started before it, and while another one runs.
 */
describe('startTestApp logs', () => {
  let first: TestApp | undefined;
  let second: TestApp | undefined;
  afterEach(async () => {
    await second?.close();
    await first?.close();
    first = second = undefined;
  });

  it("should give each of two servers started one after the other its own start's lines", async () => {
    first = await startTestApp();
    const firstDir = first.dataDir;
    const firstLogs = first.logs();
    await first.close();
    first = undefined;
    second = await startTestApp();

    // each start says where its generated secrets are: its own DATA_DIR
    expect(firstLogs).toContain(firstDir);
    expect(second.logs()).toContain(second.dataDir);
    expect(second.logs()).not.toContain(firstDir);
  });

  it("should give a line the test logs through Nest's Logger (outside any server's work) to the server started last", async () => {
    first = await startTestApp();
    await first.close();
    const closed = first;
    first = undefined;
    second = await startTestApp();

    // what a service called straight from a test logs: Nest's Logger, outside any request
    new Logger('HarnessProbe').warn('called from the test');

    expect(second.logs()).toContain('called from the test');
    expect(closed.logs()).not.toContain('called from the test');
  });

  it('should give each of two servers running at once its own lines, those of its close too', async () => {
    first = await startTestApp();
    second = await startTestApp();
    expect(first.logs()).toContain(first.dataDir);
    expect(first.logs()).not.toContain(second.dataDir);
    expect(second.logs()).toContain(second.dataDir);
    expect(second.logs()).not.toContain(first.dataDir);

    const closing = first;
    first = undefined;
    await closing.close();

    // a close drains its connections (a line logged outside any request), the first's here
    expect(closing.logs()).toContain('shutdown: draining');
    expect(second.logs()).not.toContain('shutdown: draining');
  });

  it('should give a line one server logs while another starts to the one that logged it', async () => {
    first = await startTestApp();
    const starting = startTestApp();
    // the second's start holds back every line of the process until it ends (Nest's
    // bufferLogs), then writes them in its own scope
    expect((Logger as unknown as { isBufferAttached: boolean }).isBufferAttached).toBe(true);
    first.inScope(() => new Logger('HarnessProbe').log('logged by the first'));
    second = await starting;

    expect(first.logs()).toContain('logged by the first');
    expect(second.logs()).not.toContain('logged by the first');
  });
});
