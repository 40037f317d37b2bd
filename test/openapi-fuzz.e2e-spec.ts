import { gzipSync } from 'node:zlib';
import {
  concretePath,
  loadOpenApi,
  minimalValue,
  OpenApiOperation,
  resolve,
  Schema,
} from './support/openapi-walk';
import { createSite, phoneAt, punch, sync } from './support/timesheet-client';
import { enrollPhone } from './support/worker-client';
import { startTestApp, TestApp } from './support/test-app';
import { pickWith, seededRandom as prng } from '@app/common/testing/seeded-random';

/**
 * A bounded, seeded fuzz run generated from docs/openapi.json: every operation gets malformed
 * bodies, odd encodings, deep nesting, oversize and wrongly typed values, odd path and query
 * values, with and without credentials. No answer may be a 5xx, and the server must keep
 * answering. Set FUZZ_SEED to replay a run; FUZZ_CASES to change the cases per operation.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261122);
const CASES = Number(process.env.FUZZ_CASES ?? 16);

interface FuzzRequest {
  label: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

const ODD_VALUES: unknown[] = [
  null,
  [],
  {},
  '',
  0,
  -1,
  1.5,
  true,
  'x'.repeat(70_000),
  '\u0000\u202e\ud83d\ude00',
  Number.MAX_SAFE_INTEGER * 1024,
  Array.from({ length: 5000 }, (_, i) => i),
  { $gt: '' },
  { __proto__: { polluted: true } },
  '665f1c2e8b3e4a0012345678',
  '2026-02-30T25:61:61.000Z',
];

const RAW_BODIES: [string, string | Buffer][] = [
  ['truncated', '{"a": '],
  ['garbage', Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0xff])],
  ['deep arrays', `${'['.repeat(20_000)}${']'.repeat(20_000)}`],
  ['deep objects', `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`],
  ['1e400', '{"a":1e400,"b":-1e400}'],
  ['lone surrogate', '{"a":"\\udc00\\ud800"}'],
  ['duplicate keys', '{"a":1,"a":2}'],
  ['bare scalar', '42'],
  ['NaN', '{"a":NaN}'],
  ['many keys', `{${Array.from({ length: 25_000 }, (_, i) => `"k${i}":0`).join(',')}}`],
  ['BOM', '\ufeff{"a":1}'],
  ['empty', ''],
];

const ENCODINGS: Record<string, string>[] = [
  { 'content-type': 'application/json', 'content-encoding': 'gzip' },
  { 'content-type': 'application/json', 'content-encoding': 'br' },
  { 'content-type': 'application/json', 'content-encoding': 'deflate, gzip' },
  { 'content-type': 'application/json', 'content-encoding': 'x-unknown' },
  { 'content-type': 'application/json; charset=utf-16' },
  { 'content-type': 'application/json; charset=koi8-r' },
  { 'content-type': 'text/plain' },
  { 'content-type': 'application/x-www-form-urlencoded' },
  { 'content-type': 'application/merge-patch+json' },
  { 'content-type': 'multipart/form-data; boundary=x' },
];

const ODD_SEGMENTS = [
  'x'.repeat(5000),
  '%00',
  '..%2F..%2Fetc%2Fpasswd',
  '%F0%9F%98%80',
  '%ZZ',
  '-1',
  '665f1c2e8b3e4a001234567g',
  'TEE-' + 'A'.repeat(70),
];

function generate(
  op: OpenApiOperation,
  spec: ReturnType<typeof loadOpenApi>['spec'],
  random: () => number,
  credentials: Record<string, string>[],
): FuzzRequest[] {
  const pick = pickWith(random);
  const requests: FuzzRequest[] = [];
  const schema = resolve(spec, op.bodySchema);
  const base = minimalValue(spec, op.bodySchema) as Record<string, unknown>;
  for (let i = 0; i < CASES; i++) {
    const headers: Record<string, string> = { ...pick(credentials) };
    let path = concretePath(op.path);
    let body: string | Buffer | undefined;
    let label: string;
    const kind = i % 6;
    if (kind === 0) {
      const [name, raw] = pick(RAW_BODIES);
      label = `raw body: ${name}`;
      headers['content-type'] = 'application/json';
      body = raw;
    } else if (kind === 1) {
      const encoding = pick(ENCODINGS);
      label = `encoding ${JSON.stringify(encoding)}`;
      Object.assign(headers, encoding);
      body = random() < 0.5 ? JSON.stringify(base ?? {}) : gzipSync(JSON.stringify(base ?? {}));
    } else if (kind === 2 && schema?.properties) {
      const field = pick(Object.keys(schema.properties));
      const value = pick(ODD_VALUES);
      label = `field ${field} = ${JSON.stringify(value)?.slice(0, 40)}`;
      headers['content-type'] = 'application/json';
      body = JSON.stringify({ ...(base ?? {}), [field]: value });
    } else if (kind === 3 && op.path.includes('{')) {
      const segment = pick(ODD_SEGMENTS);
      label = `path segment ${segment.slice(0, 40)}`;
      path = op.path.replace(/\{[^}]+\}/, segment).replace(/\{[^}]+\}/g, 'x');
    } else if (kind === 4) {
      const params = op.parameters.filter((p) => p.in === 'query');
      const name = params.length > 0 ? pick(params).name : 'q';
      const value = pick(['x'.repeat(9000), '-1', '1e400', '%00', '', '[]', 'NaN']);
      label = `query ${name}=${value.slice(0, 30)}`;
      path = `${path}?${name}=${encodeURIComponent(value)}&${name}=${encodeURIComponent(value)}`;
    } else {
      const [name, value] = pick([
        ['x-api-key', 'k'.repeat(10_000)],
        ['authorization', `Bearer ${'a.'.repeat(5000)}`],
        ['authorization', 'Bearer eyJhbGciOiJub25lIn0.e30.'],
        ['x-correlation-id', '../../etc'],
        ['x-signature', 'zz'],
        ['x-request-timestamp', '9999-99-99'],
        ['content-length', '5'],
      ] as [string, string][]);
      label = `header ${name}`;
      if (name !== 'content-length') headers[name] = value;
      headers['content-type'] = 'application/json';
      body = JSON.stringify(base ?? {});
    }
    if (op.method === 'GET' || op.method === 'DELETE') {
      // bodies on GET are odd input too, but fetch refuses to send them
      body = undefined;
      delete headers['content-encoding'];
    }
    requests.push({ label, path, headers, body });
  }
  return requests;
}

describe('fuzzing every route of docs/openapi.json (e2e)', () => {
  let t: TestApp;
  const { spec, operations } = loadOpenApi();
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t.close());

  it(`should answer no 5xx and stay up (seed ${SEED}, ${CASES} cases per operation)`, async () => {
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    const credentials: Record<string, string>[] = [
      {},
      { 'x-api-key': t.keys.admin },
      { 'x-api-key': t.keys.auditor },
      { 'x-api-key': t.keys.provisioner },
      { authorization: `Bearer ${phone.token}` },
    ];
    const random = prng(SEED);
    const failures: string[] = [];
    let sent = 0;

    for (const op of operations) {
      for (const request of generate(op, spec, random, credentials)) {
        const res = await fetch(`${t.baseUrl}${request.path}`, {
          method: op.method,
          headers: request.headers,
          body: request.body,
        }).catch((error: Error) => ({ status: -1, text: async () => error.message }));
        sent++;

        const text = await res.text();
        if (res.status >= 500 || res.status < 0) {
          failures.push(
            `${op.method} ${op.path} [${request.label}] → ${res.status} ${text.slice(0, 200)}`,
          );
        }
      }
    }
    expect(sent).toBeGreaterThanOrEqual(operations.length * CASES);
    expect(failures).toEqual([]);
    const health = await fetch(`${t.baseUrl}/health`);
    expect(health.status).toBe(200);
    // about 600 requests: a few seconds alone, more on a loaded CI machine
  }, 120_000);
});

/** The value of a schema: its example or first enum value when it has one, else minimalValue. */
function exampleValue(
  spec: ReturnType<typeof loadOpenApi>['spec'],
  schema: Schema | undefined,
  depth = 0,
): unknown {
  const s = resolve(spec, schema);
  if (!s || depth > 6) return {};
  if (s.example !== undefined) return s.example;
  if (s.enum?.length) return s.enum[0];
  if (s.type && s.type !== 'object') return minimalValue(spec, s);
  const out: Record<string, unknown> = {};
  for (const name of s.required ?? []) {
    out[name] = exampleValue(spec, s.properties?.[name], depth + 1);
  }
  return out;
}

/**
 * Every optional property of a body (and of the objects it holds), as a path of keys: each
 * is sent as `null` once. Which is absent here is the API's one rule (IsOmittable): null is a
 * value, refused with a 400 naming the field, never taken for a field left out.
 */
function optionalPaths(
  spec: ReturnType<typeof loadOpenApi>['spec'],
  schema: Schema | undefined,
  prefix: string[] = [],
  depth = 0,
): string[][] {
  const s = resolve(spec, schema);
  if (!s?.properties || depth > 4) return [];
  return Object.entries(s.properties).flatMap(([name, property]) => [
    ...(s.required?.includes(name) ? [] : [[...prefix, name]]),
    ...optionalPaths(spec, property, [...prefix, name], depth + 1),
  ]);
}

/**
 * `base` with the property at `path` set to `null`, or left out (`value` undefined): the
 * objects on the way are made when `base` has none.
 */
function withAt(base: unknown, path: string[], value: null | undefined): unknown {
  const copy = structuredClone(base ?? {}) as Record<string, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (value === null) node[last] = null;
  else delete node[last];
  return copy;
}

/** The codes an operation's 400 answer documents in docs/openapi.json. */
function documented400Codes(
  spec: ReturnType<typeof loadOpenApi>['spec'],
  op: OpenApiOperation,
): string[] {
  const schema = spec.paths[op.path][op.method.toLowerCase()].responses?.['400']?.content?.[
    'application/json'
  ]?.schema as Schema | undefined;
  return (schema?.allOf ?? []).flatMap((part) => (part.properties?.code?.enum ?? []) as string[]);
}

/**
 * Where a null is refused as any value of the field is (its own code or message), not as
 * "must not be null" (by operation and field).
 */
const OWN_REFUSAL: Record<string, { code?: string; message?: unknown }> = {
  // any timeZone is refused with its own code, null as well
  'PATCH /api/v5/sites/{siteId} timeZone': {
    code: 'time_zone_immutable',
    message: expect.stringContaining("a site's time zone cannot be changed"),
  },
  // the valid body voids an entry: a field of add_shift says so, whatever its value
  'POST /api/v5/sites/{siteId}/corrections workerId': { message: 'is taken by add_shift only' },
  'POST /api/v5/sites/{siteId}/corrections until': { message: 'is taken by add_shift only' },
};

describe('null for each optional body field of docs/openapi.json (e2e)', () => {
  let t: TestApp;
  const { spec, operations } = loadOpenApi();
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t.close());

  it('should answer 400 naming the field for null in every optional property of every body', async () => {
    // a real site with a real entry, so a body whose other fields are valid gets past the
    // site and target lookups to the code that reads the field
    const site = await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata');
    const phone = await phoneAt(t.baseUrl, t.keys.admin, site.siteId);
    const punched = await sync(t.baseUrl, phone, [
      punch(phone, 'check_in', new Date().toISOString()),
    ]);
    expect(punched.accepted).toBe(1);
    const seq = punched.results[0].seq!;
    const ids: Record<string, string> = { siteId: site.siteId, workerId: phone.workerId };
    // bodies that pass validation, for the operations whose examples alone do not (with two
    // fields where one is needed: the body without either is still valid)
    const valid: Record<string, Record<string, unknown>> = {
      'POST /api/v5/sites': { name: 'Null probe', geo: { lat: 28.6, lng: 77.2 }, radiusM: 200 },
      'PATCH /api/v5/sites/{siteId}': { name: 'Null probe', radiusM: 200 },
      'PATCH /api/v5/workers/{workerId}': { name: 'Null probe', siteIds: [site.siteId] },
      'POST /api/v5/sites/{siteId}/corrections': {
        action: 'void',
        target: { siteId: site.siteId, seq },
        reason: 'site register',
      },
    };
    const credentials: Record<string, string>[] = [
      { 'x-api-key': t.keys.admin },
      { authorization: `Bearer ${phone.token}` },
    ];
    const send = async (op: OpenApiOperation, path: string, headers: object, body: unknown) => {
      const res = await fetch(`${t.baseUrl}${path}`, {
        method: op.method,
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      let json: any;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined; // not JSON (an empty 204): no code, no errors
      }
      return { status: res.status, text, body: json };
    };
    const failures: string[] = [];
    // the operations sent a null, and those where a body valid but for the null was checked
    const probed = new Set<string>();
    const checked = new Set<string>();
    const answers: unknown[] = [];
    const wanted: unknown[] = [];
    let sent = 0;
    for (const op of operations) {
      if (!op.bodySchema || !op.bodyTypes.includes('application/json')) continue;
      const name = `${op.method} ${op.path}`;
      const path = op.path.replace(
        /\{([^}]+)\}/g,
        (whole: string, param: string) => ids[param] ?? concretePath(whole),
      );
      const base = valid[name] ?? exampleValue(spec, op.bodySchema);
      for (const field of optionalPaths(spec, op.bodySchema)) {
        const where = `${name} [${field.join('.')} = null]`;
        probed.add(name);
        for (const headers of credentials) {
          // the same body without the field: where it gets past the credential check and
          // validation, only the null can make the other one refused
          const rest = await send(op, path, headers, withAt(base, field, undefined));
          const res = await send(op, path, headers, withAt(base, field, null));
          sent += 2;
          if (res.status >= 500 || rest.status >= 500) {
            const text = (res.status >= 500 ? res : rest).text.slice(0, 200);
            failures.push(`${where} → ${res.status} (without it ${rest.status}) ${text}`);
            continue;
          }
          const errors = (res.body?.errors ?? []) as Array<{ field: string; message: string }>;
          const named = errors.filter((e) => e.field === field.join('.'));
          if (res.body?.code === 'validation_failed' && named.length === 0) {
            failures.push(`${where} → validation_failed not naming the field: ${res.text}`);
          }
          // without the field the body is refused too (400: it is needed, as a void's target;
          // 401/403: the credential): no more is said of the null than that it is no 5xx
          if ([400, 401, 403].includes(rest.status)) continue;
          // the rest of the body is valid: what the user gets is the null refused, by name
          checked.add(name);
          const own = OWN_REFUSAL[`${name} ${field.join('.')}`] ?? {};
          const code = own.code ?? 'validation_failed';
          expect(documented400Codes(spec, op)).toContain(code);
          answers.push({ where, status: res.status, code: res.body?.code, errors: named });
          wanted.push({
            where,
            status: 400,
            code,
            errors: [{ field: field.join('.'), message: own.message ?? 'must not be null' }],
          });
        }
      }
    }
    expect(sent).toBeGreaterThan(20);
    expect(failures).toEqual([]);
    expect(answers).toEqual(wanted);
    // every operation with an optional body property was checked with a body valid but for it
    expect([...probed].filter((name) => !checked.has(name))).toEqual([]);
  }, 90_000);
});

export type { Schema };
