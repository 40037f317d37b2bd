import { concretePath, loadOpenApi, minimalValue, OpenApiOperation } from './support/openapi-walk';
import { http, JsonResponse, startTestApp, TestApp } from './support/test-app';

/**
 * docs/openapi.json tells the truth about access: every operation is called on a real server
 * without a credential, with a key of each role, and past the rate limit, and each answer must
 * be one the operation documents, with a `code` its documented answer for that status lists.
 * A key of a role outside the operation's `x-roles` must be refused with 403 `forbidden`, and a
 * key of a role inside must not be refused at all: `x-roles` is exactly what the server takes.
 */
type Role = keyof TestApp['keys'];
const ROLES: Role[] = ['admin', 'provisioner', 'auditor', 'mobile', 'hardware'];

interface DocumentedResponse {
  headers?: Record<string, unknown>;
  content?: Record<
    string,
    { schema?: { allOf?: { properties?: { code?: { enum?: string[] } } }[] } }
  >;
}

const { spec, operations } = loadOpenApi();

function responsesOf(op: OpenApiOperation): Record<string, DocumentedResponse> {
  return (
    spec.paths[op.path][op.method.toLowerCase()] as {
      responses: Record<string, DocumentedResponse>;
    }
  ).responses;
}

function rolesOf(op: OpenApiOperation): Role[] | undefined {
  return (spec.paths[op.path][op.method.toLowerCase()] as { 'x-roles'?: Role[] })['x-roles'];
}

/** The codes an operation's documented answer with `status` lists. */
function documentedCodes(op: OpenApiOperation, status: number): string[] | undefined {
  const schema = responsesOf(op)[String(status)]?.content?.['application/json']?.schema;
  return schema?.allOf?.[1]?.properties?.code?.enum;
}

/** Why an answer is not what the document says the operation answers (undefined: it is). */
function undocumented(op: OpenApiOperation, res: JsonResponse, label: string): string | undefined {
  const name = `${op.method} ${op.path} (${label})`;
  const documented = responsesOf(op)[String(res.status)];
  if (!documented) return `${name}: answered ${res.status} ${res.body?.code ?? ''}, not documented`;
  if (res.status < 400) return undefined;
  const codes = documentedCodes(op, res.status) ?? [];
  if (!codes.includes(res.body?.code)) {
    return `${name}: answered ${res.status} ${res.body?.code}, documented codes ${codes.join(', ')}`;
  }
  return undefined;
}

function call(t: TestApp, op: OpenApiOperation, headers: Record<string, string>) {
  const binary = op.bodyTypes.length > 0 && !op.bodyTypes.includes('application/json');
  return http(t.baseUrl, op.method, concretePath(op.path), {
    headers: binary ? { ...headers, 'content-type': 'image/jpeg' } : headers,
    ...(binary
      ? { rawBody: Buffer.from([0xff, 0xd8, 0xff, 0xe0]) }
      : op.bodySchema
        ? { body: minimalValue(spec, op.bodySchema) }
        : {}),
  });
}

describe('OpenAPI access and refusals agree with the server (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t.close());

  it('should answer every operation without a credential as documented', async () => {
    const problems: string[] = [];
    for (const op of operations) {
      const res = await call(t, op, {});
      const problem = undocumented(op, res, 'no credential');
      if (problem) problems.push(problem);
      const secured = (op.security ?? []).length > 0;
      if (secured && res.status !== 401) {
        problems.push(`${op.method} ${op.path}: declares security but answered ${res.status}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('should refuse a made-up credential of each scheme an operation takes with a documented 401 or 403', async () => {
    const fake: Record<string, Record<string, string>> = {
      'api-key': { 'x-api-key': 'not-a-key-of-this-server' },
      'offline-token': { authorization: 'Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln' },
      'session-token': { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln' },
      // one header of the four: the signature's own refusal, before any device is looked up
      'thekedar-signature': { 'x-thekedar-id': '665f1c2e8b3e4a0012345678' },
    };
    const problems: string[] = [];
    let tried = 0;
    for (const op of operations) {
      for (const scheme of (op.security ?? []).flatMap((r) => Object.keys(r))) {
        expect(Object.keys(fake)).toContain(scheme);
        tried++;
        const res = await call(t, op, fake[scheme]);
        const problem = undocumented(op, res, `made-up ${scheme}`);
        if (problem) problems.push(problem);
        if (res.status !== 401 && res.status !== 403) {
          problems.push(`${op.method} ${op.path}: took a made-up ${scheme} (${res.status})`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(tried).toBeGreaterThan(operations.length / 2);
  });

  it('should refuse a key of every role outside x-roles with 403 forbidden, and take every role inside', async () => {
    const problems: string[] = [];
    let refused = 0;
    for (const op of operations) {
      const roles = rolesOf(op);
      const takesKey = (op.security ?? []).some((r) => 'api-key' in r);
      if (takesKey !== (roles !== undefined)) {
        problems.push(`${op.method} ${op.path}: api-key security and x-roles disagree`);
      }
      if (!roles) continue;
      for (const role of ROLES) {
        const res = await call(t, op, { 'x-api-key': t.keys[role] });
        const problem = undocumented(op, res, `${role} key`);
        if (problem) problems.push(problem);
        const isRefused =
          res.status === 401 || (res.status === 403 && res.body?.code === 'forbidden');
        if (roles.includes(role) && isRefused) {
          problems.push(`${op.method} ${op.path}: lists ${role} but refused it (${res.status})`);
        }
        if (!roles.includes(role)) {
          refused++;
          if (res.status !== 403 || res.body?.code !== 'forbidden') {
            problems.push(
              `${op.method} ${op.path}: does not list ${role} but answered ${res.status} ${res.body?.code ?? ''}`,
            );
          }
        }
      }
    }
    expect(problems).toEqual([]);
    expect(refused).toBeGreaterThan(50);
  }, 120_000);
});

describe('OpenAPI documents the rate limit on every operation (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_PER_IP: '1', RATE_LIMIT_WINDOW_SECONDS: '3600' });
  });
  afterAll(async () => t.close());

  it('should answer each operation past the limit with a documented 429 rate_limited and Retry-After', async () => {
    await http(t.baseUrl, 'GET', '/health'); // the one request of the window
    const problems: string[] = [];
    for (const op of operations) {
      const documented = responsesOf(op)['429'];
      if (!documented?.headers?.['Retry-After']) {
        problems.push(`${op.method} ${op.path}: 429 without Retry-After in the document`);
      }
      const res = await call(t, op, { 'x-api-key': t.keys.admin });
      const problem = undocumented(op, res, 'over the limit');
      if (problem) problems.push(problem);
      if (res.status !== 429 || !(Number(res.headers.get('retry-after')) >= 1)) {
        problems.push(`${op.method} ${op.path}: answered ${res.status} past the limit`);
      }
    }
    expect(problems).toEqual([]);
  });
});
