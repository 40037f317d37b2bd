/**
 * `npm run openapi` also runs this: writes apps/console/src/api-types.ts, the TypeScript shapes
 * of docs/openapi.json's schemas, so the console's types come from the contract and a changed
 * contract fails the console's typecheck. A unit test (apps/console/src/api-types.spec.ts)
 * fails when the committed file is not what docs/openapi.json gives.
 *
 *   node -r @swc-node/register scripts/write-console-types.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');
export const OPENAPI_PATH = join(ROOT, 'docs', 'openapi.json');
export const CONSOLE_TYPES_PATH = join(ROOT, 'apps', 'console', 'src', 'api-types.ts');

interface Schema {
  type?: string;
  enum?: Array<string | number>;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  allOf?: Schema[];
  $ref?: string;
  description?: string;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** A literal in single quotes, as the repository's Prettier writes them. */
function literal(value: string | number): string {
  return typeof value === 'number' ? String(value) : `'${value.replace(/[\\']/g, '\\$&')}'`;
}

function refName(ref: string): string {
  const name = ref.replace('#/components/schemas/', '');
  if (!IDENTIFIER.test(name)) throw new Error(`unsupported schema name ${ref}`);
  return name;
}

function typeOf(schema: Schema, indent: string): string {
  if (schema.$ref) return refName(schema.$ref);
  if (schema.allOf) return schema.allOf.map((s) => typeOf(s, indent)).join(' & ');
  if (schema.enum) return schema.enum.map(literal).join(' | ');
  switch (schema.type) {
    case 'string':
      return 'string';
    case 'number':
    case 'integer':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'array': {
      if (!schema.items) return 'unknown[]';
      const item = typeOf(schema.items, indent);
      return /[ |&]/.test(item) ? `Array<${item}>` : `${item}[]`;
    }
    case 'object':
    case undefined:
      return schema.properties ? objectType(schema, indent) : 'Record<string, unknown>';
    default:
      throw new Error(`unsupported schema type ${schema.type}`);
  }
}

function objectType(schema: Schema, indent: string): string {
  const required = new Set(schema.required ?? []);
  const inner = `${indent}  `;
  const lines = Object.entries(schema.properties ?? {}).map(([name, prop]) => {
    const key = IDENTIFIER.test(name) ? name : literal(name);
    const doc = prop.description
      ? `${inner}/** ${prop.description.replace(/\*\//g, '* /')} */\n`
      : '';
    return `${doc}${inner}${key}${required.has(name) ? '' : '?'}: ${typeOf(prop, inner)};`;
  });
  return `{\n${lines.join('\n')}\n${indent}}`;
}

/** The TypeScript text for an OpenAPI document's component schemas. */
export function consoleTypes(openapi: {
  components?: { schemas?: Record<string, Schema> };
}): string {
  const schemas = openapi.components?.schemas ?? {};
  const out = [
    '// Generated from docs/openapi.json by scripts/write-console-types.ts (`npm run openapi`).',
    '// Do not edit: change the DTOs, then regenerate. Not formatted by Prettier (.prettierignore).',
    '',
  ];
  for (const name of Object.keys(schemas).sort()) {
    const schema = schemas[name];
    if (!IDENTIFIER.test(name)) throw new Error(`unsupported schema name ${name}`);
    out.push(
      schema.properties
        ? `export interface ${name} ${objectType(schema, '')}`
        : `export type ${name} = ${typeOf(schema, '')};`,
      '',
      ...enumValueLists(name, schema),
    );
  }
  return out.join('\n');
}

/**
 * Every value of each enum property (or array of enum) of a schema, as a const list the
 * console can loop over (a filter's options), named `<Schema><Property>Values`; typed as the
 * property's own values, so the list and the type cannot differ.
 */
function enumValueLists(name: string, schema: Schema): string[] {
  return Object.entries(schema.properties ?? {}).flatMap(([prop, propSchema]) => {
    const values = propSchema.enum ?? propSchema.items?.enum;
    if (!values || !IDENTIFIER.test(prop)) return [];
    const constName = `${name}${prop[0].toUpperCase()}${prop.slice(1)}Values`;
    return [`export const ${constName} = [${values.map(literal).join(', ')}] as const;`, ''];
  });
}

/** What apps/console/src/api-types.ts must hold for the current docs/openapi.json. */
export function expectedConsoleTypes(): string {
  return consoleTypes(JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')) as object);
}

if (require.main === module) {
  writeFileSync(CONSOLE_TYPES_PATH, expectedConsoleTypes());
  process.stdout.write('apps/console/src/api-types.ts written\n');
}
