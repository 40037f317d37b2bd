/**
 * The part of prom-client this API uses, each piece loaded from its own file.
 *
 * prom-client's index loads all its default metrics, and one of them (the process CPU
 * counters, `lib/metrics/processCpuTotal.js`) `require`s `@opentelemetry/api` for exemplars we
 * do not enable: 51 modules at boot. Here the classes are prom-client's own (from their files;
 * the package has no exports map), every other default metric is registered by prom-client's
 * own file, in prom-client's order, and the three process CPU counters are written here with
 * the names, help and behaviour of prom-client's (`prometheus.spec.ts` checks the whole default
 * set against `collectDefaultMetrics`).
 *
 * Import metric classes from here (`@app/common`), never from 'prom-client' (ESLint refuses it;
 * `test/store-loading.e2e-spec.ts` fails if `@opentelemetry/api` loads at boot).
 */
import type * as PromClient from 'prom-client';

type Api = typeof PromClient;

/* eslint-disable @typescript-eslint/no-require-imports */
export const Registry = require('prom-client/lib/registry') as Api['Registry'];
export type Registry = PromClient.Registry;
export const Counter = require('prom-client/lib/counter') as Api['Counter'];
export type Counter<T extends string = string> = PromClient.Counter<T>;
export const Gauge = require('prom-client/lib/gauge') as Api['Gauge'];
export type Gauge<T extends string = string> = PromClient.Gauge<T>;
export const Histogram = require('prom-client/lib/histogram') as Api['Histogram'];
export type Histogram<T extends string = string> = PromClient.Histogram<T>;

interface DefaultMetricsConfig {
  register: Registry;
  prefix: string;
  eventLoopMonitoringPrecision: number;
}
type DefaultMetric = (registry: Registry, config: DefaultMetricsConfig) => void;

/** prom-client 15's default metrics after the CPU counters, in its order (`lib/defaultMetrics.js`). */
function promClientDefaults(): DefaultMetric[] {
  const load = (name: string) => require(`prom-client/lib/metrics/${name}`) as DefaultMetric;
  return [
    load('processStartTime'),
    load('osMemoryHeap'),
    load('processOpenFileDescriptors'),
    load('processMaxFileDescriptors'),
    load('eventLoopLag'),
    ...(typeof process.getActiveResourcesInfo === 'function' ? [load('processResources')] : []),
    load('processHandles'),
    load('processRequests'),
    load('heapSizeAndUsed'),
    load('heapSpacesSizeAndUsed'),
    load('version'),
    load('gc'),
  ];
}
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * prom-client's `processCpuTotal` without exemplars: user, system and total CPU seconds as
 * counters, all three advanced by the first one's `collect` from `process.cpuUsage()` deltas.
 */
function processCpuTotal(registry: Registry, prefix: string): void {
  let last = process.cpuUsage();
  const user = new Counter({
    name: `${prefix}process_cpu_user_seconds_total`,
    help: 'Total user CPU time spent in seconds.',
    registers: [registry],
    collect() {
      const now = process.cpuUsage();
      const userMicros = now.user - last.user;
      const systemMicros = now.system - last.system;
      last = now;
      user.inc(userMicros / 1e6);
      system.inc(systemMicros / 1e6);
      total.inc((userMicros + systemMicros) / 1e6);
    },
  });
  const system = new Counter({
    name: `${prefix}process_cpu_system_seconds_total`,
    help: 'Total system CPU time spent in seconds.',
    registers: [registry],
  });
  const total = new Counter({
    name: `${prefix}process_cpu_seconds_total`,
    help: 'Total user and system CPU time spent in seconds.',
    registers: [registry],
  });
}

/** `collectDefaultMetrics({ register, prefix })` of prom-client: the same metrics, same order. */
export function collectDefaultMetrics(register: Registry, prefix: string): void {
  processCpuTotal(register, prefix);
  const config = { register, prefix, eventLoopMonitoringPrecision: 10 };
  for (const metric of promClientDefaults()) metric(register, config);
}
