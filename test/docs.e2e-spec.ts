import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MESSAGE_CATALOG, INBOUND_TYPES, outboundProblem, RelayRole } from '@app/relay';
import { renderProtocolDoc } from '@app/relay/protocol/protocol-doc';
import { parseInboundFrame } from '@app/relay/protocol/parse-frame';
import { buildOpenApi } from '@app/api/openapi';
import {
  consoleTypes,
  CONSOLE_TYPES_PATH,
  expectedConsoleTypes,
} from '../scripts/write-console-types';
import { startTestApp } from './support/test-app';

// js-yaml comes with @nestjs/swagger (it writes /docs-yaml); its typings are not installed
// eslint-disable-next-line @typescript-eslint/no-require-imports
const jsYaml = require('js-yaml') as { load: (text: string) => unknown };

const docs = (name: string) => readFileSync(join(__dirname, '..', 'docs', name), 'utf8');

describe('docs stay in step with the code', () => {
  it('should have docs/protocol.md as generated from the message catalog (npm run docs:protocol)', () => {
    expect(docs('protocol.md')).toBe(renderProtocolDoc());
  });

  it('should document every inbound type, and every documented inbound example should parse', () => {
    for (const role of Object.keys(INBOUND_TYPES) as RelayRole[]) {
      for (const type of INBOUND_TYPES[role]) {
        const spec = MESSAGE_CATALOG.find(
          (m) => m.type === type && m.direction === 'client → server' && m.sockets.includes(role),
        );
        expect(spec).toBeDefined();
        const parsed = parseInboundFrame(role, JSON.stringify(spec!.example));
        expect(parsed).toEqual({ ok: true, frame: spec!.example });
      }
    }
  });

  it('should hold every documented server → client example to its declaration, on each of its sockets', () => {
    const outbound = MESSAGE_CATALOG.filter((m) => m.direction === 'server → client');
    expect(outbound.length).toBeGreaterThan(0);
    for (const spec of outbound)
      for (const role of spec.sockets)
        expect([spec.type, role, outboundProblem(role, spec.example)]).toEqual([
          spec.type,
          role,
          undefined,
        ]);
  });

  it('should document the frames a socket gets, and only those', () => {
    const doc = docs('protocol.md');
    for (const spec of MESSAGE_CATALOG) expect(doc).toContain(JSON.stringify(spec.example));
    // legacy sockets close with 4000 at the deadline and get no frame (relay-legacy e2e)
    expect(doc).toContain('### `session_expired` (server → client; `/ws/mobile`, `/ws/device`)');
  });

  it('should have docs/openapi.json as generated from the controllers (npm run openapi)', async () => {
    const t = await startTestApp();
    try {
      expect(JSON.parse(docs('openapi.json'))).toEqual(
        JSON.parse(JSON.stringify(buildOpenApi(t.app))),
      );
    } finally {
      await t.close();
    }
  });

  it('should give every operation a one-line summary', async () => {
    const t = await startTestApp();
    try {
      const document = buildOpenApi(t.app);
      const operations = Object.entries(document.paths).flatMap(([path, item]) =>
        Object.entries(item as Record<string, { summary?: unknown; operationId?: unknown }>)
          .filter(([, op]) => typeof op === 'object' && op !== null && 'responses' in op)
          .map(([verb, op]) => ({ at: `${verb.toUpperCase()} ${path}`, summary: op.summary })),
      );
      expect(operations.length).toBeGreaterThan(50);
      const without = operations.filter(
        (op) =>
          typeof op.summary !== 'string' || op.summary.trim() === '' || op.summary.includes('\n'),
      );
      expect(without.map((op) => op.at)).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('should serve the same document at /docs-json, /docs-yaml and in Swagger UI at /docs (swagger loaded on first use)', async () => {
    const t = await startTestApp();
    try {
      const get = (path: string) => fetch(`${t.baseUrl}${path}`);
      const expected = JSON.parse(docs('openapi.json')) as unknown;
      const json = await get('/docs-json');
      expect([json.status, json.headers.get('content-type')]).toEqual([
        200,
        'application/json; charset=utf-8',
      ]);
      expect(await json.json()).toEqual(expected);
      const yaml = await get('/docs-yaml');
      expect([yaml.status, yaml.headers.get('content-type')]).toEqual([
        200,
        'text/yaml; charset=utf-8',
      ]);
      expect(jsYaml.load(await yaml.text())).toEqual(expected);
      for (const path of ['/docs', '/docs/', '/docs/index.html']) {
        const html = await get(path);
        expect([path, html.status, html.headers.get('content-type')]).toEqual([
          path,
          200,
          'text/html; charset=utf-8',
        ]);
        expect(await html.text()).toContain('swagger-ui-init.js');
      }
      const init = await get('/docs/swagger-ui-init.js');
      expect(init.status).toBe(200);
      const options = /let options = (\{[\s\S]*?\});\n/.exec(await init.text());
      expect((JSON.parse(options![1]) as { swaggerDoc: unknown }).swaggerDoc).toEqual(expected);
      const css = await get('/docs/swagger-ui.css'); // swagger-ui-dist's assets
      expect([css.status, css.headers.get('content-type')]).toEqual([
        200,
        'text/css; charset=utf-8',
      ]);
      expect(css.headers.get('x-powered-by')).toBeNull();
      expect((await get('/docs/LICENSE')).status).toBe(404);
      // paths that only start like the docs are the API's (a 404 JSON body, as before)
      const other = await get('/docsx');
      expect([other.status, ((await other.json()) as { code: string }).code]).toEqual([
        404,
        'not_found',
      ]);
    } finally {
      await t.close();
    }
  });

  it('should have the console types as generated from docs/openapi.json (npm run openapi)', () => {
    expect(readFileSync(CONSOLE_TYPES_PATH, 'utf8')).toBe(expectedConsoleTypes());
  });

  it('should turn schemas into TypeScript: required, optional, enums (and their value lists), arrays, refs and allOf', () => {
    const text = consoleTypes({
      components: {
        schemas: {
          A: {
            type: 'object',
            properties: {
              id: { type: 'string', description: 'the id' },
              n: { type: 'integer' },
              state: { type: 'string', enum: ['on', 'off'] },
              tags: { type: 'array', items: { type: 'string', enum: ['x', 'y'] } },
              b: { $ref: '#/components/schemas/B' },
              c: { allOf: [{ $ref: '#/components/schemas/B' }] },
              bag: { type: 'object' },
            },
            required: ['id', 'state', 'tags'],
          },
          B: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
        },
      },
    });
    expect(text).toContain(
      [
        'export interface A {',
        '  /** the id */',
        '  id: string;',
        '  n?: number;',
        "  state: 'on' | 'off';",
        "  tags: Array<'x' | 'y'>;",
        '  b?: B;',
        '  c?: B;',
        '  bag?: Record<string, unknown>;',
        '}',
      ].join('\n'),
    );
    expect(text).toContain('export interface B {\n  ok: boolean;\n}');
    expect(text).toContain("export const AStateValues = ['on', 'off'] as const;");
    expect(text).toContain("export const ATagsValues = ['x', 'y'] as const;");
    expect(text).not.toContain('BOkValues');
  });

  it('should name only files and folders that exist, in the hand-written docs', () => {
    const root = join(__dirname, '..');
    // a repository path in backticks; placeholders (`<module>`, `*.spec.ts`) are not paths
    const pathInCode = /`((?:apps|libs|test|docs|scripts|bench|deploy)\/[^`\s<>*…]*)`/g;
    for (const doc of ['docs/architecture.md', 'CONTRIBUTING.md', 'README.md']) {
      const named = [...readFileSync(join(root, doc), 'utf8').matchAll(pathInCode)].map(
        (m) => m[1],
      );
      expect(named.length).toBeGreaterThan(doc === 'README.md' ? 5 : 40);
      const dangling = [...new Set(named)].filter((path) => !existsSync(join(root, path)));
      expect({ doc, dangling }).toEqual({ doc, dangling: [] });
    }
  });

  it("should name every path nginx refuses itself (404) in the proxy's not_found row", () => {
    const root = join(__dirname, '..');
    const nginx = readFileSync(join(root, 'deploy', 'nginx.conf'), 'utf8');
    const row = /^\| `not_found` \| 404 [^\n]*$/m.exec(
      docs('errors.md').split('## proxy')[1] ?? '',
    )?.[0];
    expect(row).toBeDefined();
    expect(nginx).toMatch(/location ~\* \^\/metrics[^{]*\{\s*return 404/);
    expect(row).toContain('`/metrics`');
    // the long class matched only once nginx decoded the path (an encoded slash)
    expect(nginx).toMatch(/if \(\$mdai_long_refused\) \{\s*return 404/);
    expect(row).toMatch(/%2F/);
  });

  it('should list as configuration differing from DESIGN.md only variables .env.example has', () => {
    const root = join(__dirname, '..');
    const section = readFileSync(join(root, 'docs', 'architecture.md'), 'utf8').split(
      '## Where this project differs from DESIGN.md, and why',
    )[1];
    const bullet = /^- Configuration: [\s\S]*?(?=^- )/m.exec(section)?.[0] ?? '';
    const named = [...bullet.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]);
    expect(named.length).toBeGreaterThan(3);
    const example = readFileSync(join(root, '.env.example'), 'utf8');
    const variables = new Set([...example.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    // a name the bullet says is a constant is not offered as a setting
    const constant = (name: string) => bullet.includes(`\`${name}\` is a constant`);
    expect(named.filter((name) => !variables.has(name) && !constant(name))).toEqual([]);
  });
});
