import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UNSIGNED_REJECTION_TYPES } from '@app/fraud/domain/fraud-event';
import { freePort } from './support/processes';
import { http, startTestApp, TestApp } from './support/test-app';

// js-yaml comes with @nestjs/swagger (it writes YAML specs); its typings are not installed
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = require('js-yaml') as { load: (text: string) => unknown };

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** `mdai_http_request_duration_seconds_count{route="/x",status="401",...} 2` → 2 (summed over the rest). */
function count(metrics: string, name: string, labels: Record<string, string>): number {
  let total = 0;
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (ok) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

describe('metrics see errors (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Redis configured but down: /health answers 503, a real 5xx to count
    t = await startTestApp({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
  });
  afterAll(async () => t.close());

  it('item 5: should count 401, 403, 400, 404 and 5xx responses by route with the status sent', async () => {
    await http(t.baseUrl, 'GET', '/api/kiosks');
    await http(t.baseUrl, 'GET', '/api/kiosks', { key: t.keys.mobile });
    await http(t.baseUrl, 'POST', '/api/v5/sites', { key: t.keys.admin, body: { name: 1 } });
    await http(t.baseUrl, 'POST', '/auth', {
      rawBody: '[[[[',
      headers: { 'content-type': 'application/json' },
    });
    await http(t.baseUrl, 'GET', '/nope');
    const health = await http(t.baseUrl, 'GET', '/health');
    expect(health.status).toBe(503);
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    const seconds = 'mdai_http_request_duration_seconds_count';
    expect(count(metrics, seconds, { route: '/api/kiosks', status: '401' })).toBe(1);
    expect(count(metrics, seconds, { route: '/api/kiosks', status: '403' })).toBe(1);
    expect(count(metrics, seconds, { route: '/api/v5/sites', status: '400' })).toBe(1);
    expect(count(metrics, seconds, { route: '/health', status: '503' })).toBe(1);
    expect(count(metrics, seconds, { route: 'unmatched', status: '404' })).toBe(1);
    const errors = 'mdai_http_errors_total';
    expect(count(metrics, errors, { route: '/api/kiosks', code: 'unauthorized' })).toBe(1);
    expect(count(metrics, errors, { route: '/api/kiosks', code: 'forbidden' })).toBe(1);
    expect(count(metrics, errors, { route: '/api/v5/sites', code: 'validation_failed' })).toBe(1);
    expect(count(metrics, errors, { status: '400', code: 'invalid_json' })).toBe(1);
    expect(count(metrics, errors, { route: '/health', status: '503' })).toBe(1);
  });
});

describe('the metrics route (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t.close());

  it('should answer /metrics as spelled only; other spellings express routes to it get the 404 of an unknown path', async () => {
    expect((await fetch(`${t.baseUrl}/metrics`)).status).toBe(200);
    expect((await fetch(`${t.baseUrl}/metrics?name[]=x`)).status).toBe(200);
    const answers: unknown[] = [];
    for (const path of ['/Metrics', '/METRICS', '/metrics/', '/Metrics/?x=1']) {
      for (const method of ['GET', 'HEAD']) {
        const res = await fetch(`${t.baseUrl}${path}`, { method });
        const body = method === 'GET' ? ((await res.json()) as { code?: string }) : undefined;
        answers.push([method, path, res.status, body?.code, res.headers.get('content-type')]);
      }
    }
    expect(answers).toEqual(
      answers.map((a) => {
        const [method, path] = a as string[];
        const code = method === 'GET' ? 'not_found' : undefined;
        return [method, path, 404, code, 'application/json; charset=utf-8'];
      }),
    );
  });

  it('should leave every other route as express routes it: any case, one trailing slash (the fielded kiosks)', async () => {
    for (const path of ['/HEALTH', '/health/', '/Health/']) {
      expect([path, (await http(t.baseUrl, 'GET', path)).status]).toEqual([path, 200]);
    }
    const auth = await http(t.baseUrl, 'POST', '/AUTH/', { body: { api_key: t.keys.hardware } });
    expect([auth.status, typeof auth.body.token]).toEqual([200, 'string']);
  });
});

describe('deploy/prometheus/alerts.yml', () => {
  const file = join(__dirname, '..', 'deploy', 'prometheus', 'alerts.yml');
  const doc = yaml.load(readFileSync(file, 'utf8')) as {
    groups: { name: string; rules: Rule[] }[];
  };
  const rules = doc.groups.flatMap((g) => g.rules);

  it('should parse as a Prometheus rule file with the alerts we ship', () => {
    expect(doc.groups.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect(typeof rule.alert).toBe('string');
      expect(rule.expr.trim().length).toBeGreaterThan(0);
      expect(['page', 'ticket']).toContain(rule.labels.severity);
      expect(typeof rule.annotations.summary).toBe('string');
      if (rule.for !== undefined) expect(rule.for).toMatch(/^\d+[smh]$/);
      // brackets and parentheses balance (a cheap PromQL sanity check)
      for (const [open, close] of ['()', '[]', '{}']) {
        expect(rule.expr.split(open).length).toBe(rule.expr.split(close).length);
      }
    }
    const exprs = rules.map((r) => r.expr).join('\n');
    expect(exprs).toMatch(/status=~"5\.\."/);
    expect(exprs).toContain('histogram_quantile(0.99');
    expect(exprs).toContain('mdai_relay_errors_total');
    expect(exprs).toContain('audit_unavailable');
    // a replica Prometheus cannot reach, one whose /health fails (Docker does not restart it)
    expect(exprs).toMatch(/^up\{job="mdai-api"\} == 0$/m);
    expect(exprs).toContain('route="/health",status="503"');
    // offline attendance: packets by outcome, fraud events by type
    expect(exprs).toContain('mdai_sync_packets_total{outcome="rejected"}');
    expect(exprs).toContain('mdai_fraud_events_total');
    // key rotation: a replica without the current keys
    expect(exprs).toContain('mdai_vault_key_unavailable_total');
    expect(exprs).toContain('mdai_tlog_key_past_window_total');
    expect(exprs).toContain('mdai_token_key_past_window_total');
    // the timesheet read model: a sealed ledger link deleted or rewritten, rows changed (these
    // keep /health up, so a load balancer keeps the replicas: the alerts are what pages)
    expect(exprs).toMatch(/mdai_timesheet_sites_stopped\) > 0$/m);
    expect(exprs).toContain('increase(mdai_timesheet_rows_tampered_total[15m])) > 0');
    // the worker devices' legacy tagging refused (every phone from before the tags blocked)
    expect(exprs).toMatch(/mdai_worker_devices_legacy_tagging_refused\) > 0$/m);
    // the kiosks' (every kiosk from before the tags blocked)
    expect(exprs).toMatch(/mdai_kiosks_legacy_tagging_refused\) > 0$/m);
    // the workers', sites' and thekedars' (every one from before the tags refused as tampered)
    for (const kind of ['workers', 'sites', 'thekedars']) {
      expect(exprs).toMatch(new RegExp(`mdai_${kind}_legacy_tagging_refused\\) > 0$`, 'm'));
    }
    // a sealed vault audit record changed (the audit watch: /health stays up)
    expect(exprs).toMatch(/mdai_vault_audit_tampered\) > 0$/m);
  });

  it('should page on a replica lacking a master key version per replica and version, from the first value met', () => {
    const rule = rules.find((r) => r.alert === 'MdaiVaultKeyUnavailable')!;
    const expr = rule.expr.replace(/\s+/g, ' ').trim();
    // the version label survives the aggregation (the description names it)
    const halves = expr.split(' or ');
    expect(halves).toHaveLength(2);
    for (const half of halves) {
      expect(half).toMatch(/^sum by \(instance, version\) \(/);
      expect(half).toMatch(/\) > 0$/);
    }
    expect(halves[0]).toContain('increase(mdai_vault_key_unavailable_total[10m])');
    // a series' first increment: increase() needs two samples of it, the counter has no series
    // for a version before the first value under it is met
    expect(halves[1]).toContain(
      '(mdai_vault_key_unavailable_total unless mdai_vault_key_unavailable_total offset 10m)',
    );
    expect(rule.annotations.description).toContain('{{ $labels.version }}');
    expect(rule.annotations.description).toContain('{{ $labels.instance }}');
  });

  it('should page on stored Merkle nodes that do not give the signed root, by log (review LV #3)', () => {
    const rule = rules.find((r) => r.alert === 'MdaiTlogNodesMismatch')!;
    expect(rule).toBeDefined();
    expect(rule.labels.severity).toBe('page');
    expect(rule.expr).toContain('increase(mdai_tlog_nodes_mismatch_total[15m])');
    expect(rule.expr.trim()).toMatch(/\) > 0$/);
    expect(rule.annotations.description).toContain('{{ $labels.log }}');
  });

  it('should be loaded by the shipped Prometheus config, whose scrape job the rules name', () => {
    const config = yaml.load(readFileSync(join(file, '..', 'prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: { job_name: string; metrics_path?: string }[];
    };
    expect(config.rule_files).toEqual(['alerts.yml']);
    const jobs = rules.flatMap((r) => [...r.expr.matchAll(/\bjob="([^"]+)"/g)].map((m) => m[1]));
    expect(jobs.length).toBeGreaterThan(0);
    for (const job of jobs) {
      expect(config.scrape_configs.find((c) => c.job_name === job)).toMatchObject({
        metrics_path: '/metrics',
      });
    }
  });

  it('should watch exactly the rejections a token sends without its signing secret', () => {
    const rule = rules.find((r) => r.alert === 'MdaiUnsignedSyncRejections');
    const matchers = [...(rule?.expr ?? '').matchAll(/type=~"([^"]+)"/g)].map((m) =>
      m[1].split('|').sort(),
    );
    // the stored events and those over the device's minute budget
    expect(matchers).toHaveLength(2);
    for (const types of matchers) expect(types).toEqual([...UNSIGNED_REJECTION_TYPES].sort());
  });

  it('should name only metrics the API exports', async () => {
    const t = await startTestApp();
    try {
      const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
      const exported = new Set([...metrics.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
      const named = new Set(
        rules.flatMap((r) => [...r.expr.matchAll(/\b(mdai_[a-z0-9_]+)/g)].map((m) => m[1])),
      );
      expect(named.size).toBeGreaterThan(0);
      for (const name of named) {
        const base = name.replace(/_(bucket|count|sum)$/, '');
        expect([name, exported.has(base)]).toEqual([name, true]);
      }
    } finally {
      await t.close();
    }
  });
});
