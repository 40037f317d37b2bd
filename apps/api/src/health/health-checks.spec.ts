import { HealthChecks, indicator } from './health-checks';

describe('HealthChecks', () => {
  const up =
    (key: string, details = {}) =>
    async () =>
      indicator(key).up(details);
  const down =
    (key: string, details = {}) =>
    async () =>
      indicator(key).down(details);

  it('should report ok with every check under info and details when all are up', async () => {
    const report = await new HealthChecks().run([up('store', { driver: 'sqlite' }), up('disk')]);
    expect(report).toEqual({
      status: 'ok',
      info: { store: { driver: 'sqlite', status: 'up' }, disk: { status: 'up' } },
      error: {},
      details: { store: { driver: 'sqlite', status: 'up' }, disk: { status: 'up' } },
    });
  });

  it('should report error with the down checks under error, after the up ones in details', async () => {
    const report = await new HealthChecks().run([
      down('store', { message: 'no answer in 2000 ms' }),
      up('disk', { freeBytes: 1 }),
    ]);
    expect(report.status).toBe('error');
    expect(report.info).toEqual({ disk: { freeBytes: 1, status: 'up' } });
    expect(report.error).toEqual({ store: { message: 'no answer in 2000 ms', status: 'down' } });
    expect(Object.keys(report.details)).toEqual(['disk', 'store']);
  });

  it('should report shutting_down once the application has begun to close', async () => {
    const checks = new HealthChecks();
    checks.onModuleDestroy();
    expect((await checks.run([up('store')])).status).toBe('shutting_down');
  });

  it('should let a check that throws fail the request rather than report it down', async () => {
    const broken = async () => Promise.reject(new Error('bug'));
    await expect(new HealthChecks().run([up('store'), broken])).rejects.toThrow('bug');
  });

  it('should refuse status as a detail key', () => {
    expect(() => indicator('disk').down({ status: 'x' })).toThrow(/reserved/);
  });
});
