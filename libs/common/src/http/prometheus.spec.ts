import * as promClient from 'prom-client';
import * as prometheus from './prometheus';

describe('prometheus (prom-client file by file)', () => {
  it('should export prom-client’s own classes', () => {
    for (const name of ['Registry', 'Counter', 'Gauge', 'Histogram'] as const)
      expect([name, prometheus[name]]).toEqual([name, promClient[name]]);
  });

  it('should register the default metrics of collectDefaultMetrics: names, help, types, labels, order', async () => {
    const theirs = new promClient.Registry();
    promClient.collectDefaultMetrics({ register: theirs, prefix: 'mdai_' });
    const ours = new prometheus.Registry();
    prometheus.collectDefaultMetrics(ours, 'mdai_');
    const shape = async (registry: promClient.Registry) =>
      (await registry.getMetricsAsJSON()).map(({ name, help, type, aggregator, values }) => ({
        name,
        help,
        type,
        aggregator,
        labels: [...new Set(values.flatMap((v) => Object.keys(v.labels)))].sort(),
      }));
    const expected = await shape(theirs);
    expect(expected.length).toBeGreaterThan(20);
    expect(await shape(ours)).toEqual(expected);
    theirs.clear();
    ours.clear();
  });

  it('should count the process CPU time: user + system = total, growing with work', async () => {
    const registry = new prometheus.Registry();
    prometheus.collectDefaultMetrics(registry, 'p_');
    const cpu = async () => {
      const all = await registry.getMetricsAsJSON();
      const value = (name: string) => all.find((m) => m.name === name)!.values[0].value;
      return {
        user: value('p_process_cpu_user_seconds_total'),
        system: value('p_process_cpu_system_seconds_total'),
        total: value('p_process_cpu_seconds_total'),
      };
    };
    const first = await cpu();
    const until = process.cpuUsage().user + 20_000; // burn 20 ms of user CPU
    while (process.cpuUsage().user < until);
    const second = await cpu();
    expect(second.user).toBeGreaterThanOrEqual(first.user + 0.02);
    expect(second.system).toBeGreaterThanOrEqual(first.system);
    expect(second.total).toBeCloseTo(second.user + second.system, 6);
    registry.clear();
  });
});
