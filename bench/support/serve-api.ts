/**
 * Bench child: the real API (createApp, as main.ts) on a free port; prints `READY <port>`.
 * `profile-start` on stdin starts a V8 CPU profile of this process (answer `PROFILING`),
 * `profile-stop <file>` writes it to the file (answer `PROFILED`). `eld-start` starts a 1 ms
 * event-loop delay histogram (answer `ELD-STARTED`), `eld-stop` answers `ELD <json>`: its p50,
 * p99 and max in ms (how long a timer due on the loop waited: synchronous work, or a wait on
 * SQLite's write lock, held it).
 */
import { Session } from 'node:inspector';
import { IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
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
  return (line) => {
    if (line === 'profile-start') {
      session.connect();
      void post('Profiler.enable')
        .then(() => post('Profiler.setSamplingInterval', { interval: 200 }))
        .then(() => post('Profiler.start'))
        .then(() => process.stdout.write('PROFILING\n'), fail);
    } else if (line.startsWith('profile-stop ')) {
      const file = line.slice('profile-stop '.length);
      void post('Profiler.stop').then(({ profile }: { profile: unknown }) => {
        writeFileSync(file, JSON.stringify(profile));
        session.disconnect();
        process.stdout.write('PROFILED\n');
      }, fail);
    }
  };
}

function eventLoopDelay(other: (line: string) => void): (line: string) => void {
  let histogram: IntervalHistogram | undefined;
  return (line) => {
    if (line === 'eld-start') {
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
      };
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
