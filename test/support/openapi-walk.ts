import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The parts of docs/openapi.json the walking tests read. */
export interface OpenApiOperation {
  method: string;
  path: string;
  security?: Record<string, string[]>[];
  parameters: { name: string; in: string; required?: boolean; schema?: Schema }[];
  bodySchema?: Schema;
  bodyTypes: string[];
}

export interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  minimum?: number;
  maxLength?: number;
  allOf?: Schema[];
  example?: unknown;
}

interface Spec {
  paths: Record<string, Record<string, any>>;
  components: { schemas: Record<string, Schema> };
}

export function loadOpenApi(): { spec: Spec; operations: OpenApiOperation[] } {
  const spec = JSON.parse(
    readFileSync(join(__dirname, '..', '..', 'docs', 'openapi.json'), 'utf8'),
  ) as Spec;
  const operations: OpenApiOperation[] = [];
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const content = (op.requestBody?.content ?? {}) as Record<string, { schema?: Schema }>;
      const types = Object.keys(content);
      operations.push({
        method: method.toUpperCase(),
        path,
        security: op.security as OpenApiOperation['security'],
        parameters: (op.parameters ?? []) as OpenApiOperation['parameters'],
        bodySchema: types.length > 0 ? content[types[0]].schema : undefined,
        bodyTypes: types,
      });
    }
  }
  return { spec, operations };
}

export function resolve(spec: Spec, schema: Schema | undefined): Schema | undefined {
  if (!schema) return undefined;
  if (schema.$ref) return resolve(spec, spec.components.schemas[schema.$ref.split('/').pop()!]);
  if (schema.allOf?.length === 1) return resolve(spec, schema.allOf[0]);
  return schema;
}

/** A value the schema's type accepts, shaped only as far as `required` asks. */
export function minimalValue(spec: Spec, schema: Schema | undefined, depth = 0): unknown {
  const s = resolve(spec, schema);
  if (!s || depth > 6) return {};
  if (s.enum?.length) return s.enum[0];
  switch (s.type) {
    case 'string':
      return 'x';
    case 'number':
    case 'integer':
      return s.minimum ?? 1;
    case 'boolean':
      return true;
    case 'array':
      return [];
    default: {
      const out: Record<string, unknown> = {};
      for (const name of s.required ?? []) {
        out[name] = minimalValue(spec, s.properties?.[name], depth + 1);
      }
      return out;
    }
  }
}

/** The path with its parameters filled by plausible values (ids the routes' patterns accept). */
export function concretePath(path: string): string {
  return path.replace(/\{([^}]+)\}/g, (_, name: string) =>
    name === 'device_id' ? 'TEE-PROBE-1' : '665f1c2e8b3e4a0012345678',
  );
}
