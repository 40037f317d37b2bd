import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MESSAGE_CATALOG, INBOUND_TYPES, RelayRole } from '@app/relay';
import { renderProtocolDoc } from '@app/relay/protocol/protocol-doc';
import { parseInboundFrame } from '@app/relay/protocol/parse-frame';
import { buildOpenApi } from '@app/api/openapi';
import {
  consoleTypes,
  CONSOLE_TYPES_PATH,
  expectedConsoleTypes,
} from '../scripts/write-console-types';
import { startTestApp } from './support/test-app';

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
        expect(parsed).toMatchObject({ ok: true });
      }
    }
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

  it('should have the console types as generated from docs/openapi.json (npm run openapi)', () => {
    expect(readFileSync(CONSOLE_TYPES_PATH, 'utf8')).toBe(expectedConsoleTypes());
  });

  it('should turn schemas into TypeScript: required, optional, enums, arrays, refs and allOf', () => {
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
  });
});
