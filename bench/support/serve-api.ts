/**
 * Bench child: the real API (createApp, as main.ts) on a free port; prints `READY <port>`.
 * `profile-start` on stdin starts a V8 CPU profile of this process (answer `PROFILING`),
 * `profile-stop <file>` writes it to the file (answer `PROFILED`), and one profile of each worker
 * thread (the ledger's append thread, the checkpoint thread, the packet checks) beside it, as
 * `<file>.<worker url's name>-<id>.cpuprofile` (through the inspector's NodeWorker domain).
 * `heap-profile-start` / `heap-profile-stop <file>`: the same for a sampling heap profile of the
 * main thread, collected objects included (where the allocations come from). `eld-start` starts a 1 ms
 * event-loop delay histogram (answer `ELD-STARTED`), `eld-stop` answers `ELD <json>`: its p50,
 * p99 and max in ms (how long a timer due on the loop waited: synchronous work, or a wait on
 * SQLite's write lock, held it).
 */
import { Session } from 'node:inspector';
import { IntervalHistogram, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { writeFileSync } from 'node:fs';
import { createApp } from '@app/api/bootstrap';
import { answerMemoryRequests } from './child';

function profiler(): (line: string) => void {
  const session = new Session();
  const post = (method: string, params?: object) =>
    new Promise<any>((resolve, reject) =>
      session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
    );
  const fail = (error: unknown) => process.stdout.write(`PROFILE-ERROR ${String(error)}\n`);
  // the worker threads' sessions: each message to one has an id, its answer comes back as an event
  const workers = new Map<string, string>();
  const waiting = new Map<number, (result: any) => void>();
  let nextId = 1;
  const toWorker = (sessionId: string, method: string, params?: object) =>
    new Promise<any>((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      void post('NodeWorker.sendMessageToWorker', {
        sessionId,
        message: JSON.stringify({ id, method, params }),
      });
    });
  const startWorker = (sessionId: string) =>
    toWorker(sessionId, 'Profiler.enable')
      .then(() => toWorker(sessionId, 'Profiler.setSamplingInterval', { interval: 200 }))
      .then(() => toWorker(sessionId, 'Profiler.start'));
  session.on('NodeWorker.attachedToWorker', ({ params }: any) => {
    const name = String(params.workerInfo.url)
      .replace(/.*\//, '')
      .replace(/\.[jt]s$/, '');
    workers.set(params.sessionId, `${name}-${params.workerInfo.workerId}`);
    void startWorker(params.sessionId);
  });
  session.on('NodeWorker.receivedMessageFromWorker', ({ params }: any) => {
    const message = JSON.parse(params.message);
    waiting.get(message.id)?.(message.result);
    waiting.delete(message.id);
  });
  return (line) => {
    if (line === 'profile-start') {
      session.connect();
      void post('Profiler.enable')
        .then(() => post('Profiler.setSamplingInterval', { interval: 200 }))
        .then(() => post('Profiler.start'))
        .then(() => post('NodeWorker.enable', { waitForDebuggerOnStart: false }))
        .then(() => process.stdout.write('PROFILING\n'), fail);
    } else if (line === 'heap-profile-start') {
      // every allocation sampled, the collected ones too: where the churn that the scavenges
      // pay for comes from
      session.connect();
      void post('HeapProfiler.enable')
        .then(() =>
          post('HeapProfiler.startSampling', {
            samplingInterval: 16384,
            includeObjectsCollectedByMajorGC: true,
            includeObjectsCollectedByMinorGC: true,
          }),
        )
        .then(() => process.stdout.write('PROFILING\n'), fail);
    } else if (line.startsWith('heap-profile-stop ')) {
      const file = line.slice('heap-profile-stop '.length);
      void post('HeapProfiler.stopSampling').then(({ profile }: { profile: unknown }) => {
        writeFileSync(file, JSON.stringify(profile));
        session.disconnect();
        process.stdout.write('PROFILED\n');
      }, fail);
    } else if (line.startsWith('profile-stop ')) {
      const file = line.slice('profile-stop '.length);
      const stopWorkers = [...workers].map(([sessionId, name]) =>
        toWorker(sessionId, 'Profiler.stop').then(({ profile }: { profile: unknown }) =>
          writeFileSync(`${file}.${name}.cpuprofile`, JSON.stringify(profile)),
        ),
      );
      void Promise.all(stopWorkers)
        .then(() => post('Profiler.stop'))
        .then(({ profile }: { profile: unknown }) => {
          writeFileSync(file, JSON.stringify(profile));
          session.disconnect();
          process.stdout.write('PROFILED\n');
        }, fail);
    }
  };
}

function eventLoopDelay(other: (line: string) => void): (line: string) => void {
  let histogram: IntervalHistogram | undefined;
  // the main thread's garbage collections over the same span, by kind (count, ms of pause)
  const gc: Record<string, { count: number; ms: number }> = {};
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const { detail } = entry as { detail?: { kind?: number } };
      const kind = String(detail?.kind ?? '?');
      const sum = (gc[kind] ??= { count: 0, ms: 0 });
      sum.count += 1;
      sum.ms += entry.duration;
    }
  });
  return (line) => {
    if (line === 'eld-start') {
      gcObserver.observe({ entryTypes: ['gc'] });
      histogram = monitorEventLoopDelay({ resolution: 1 });
      histogram.enable();
      process.stdout.write('ELD-STARTED\n');
    } else if (line === 'eld-stop' && histogram) {
      histogram.disable();
      const ms = (ns: number) => ns / 1e6;
      const answer = {
        p50: ms(histogram.percentile(50)),
        p99: ms(histogram.percentile(99)),
        max: ms(histogram.max),
        gc,
        heapUsedMiB: process.memoryUsage().heapUsed / 2 ** 20,
      };
      gcObserver.disconnect();
      process.stdout.write(`ELD ${JSON.stringify(answer)}\n`);
    } else other(line);
  };
}

async function main(): Promise<void> {
  const { app } = await createApp(process.env);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  answerMemoryRequests(eventLoopDelay(profiler()));
  process.stdout.write(`READY ${port}\n`);
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

void main();
