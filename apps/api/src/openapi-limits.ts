import { INestApplication, RequestMethod } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import type { OpenAPIObject } from '@nestjs/swagger';
import { getMetadataStorage } from '@app/common';

/** The part of an OpenAPI schema the limits touch. */
export interface LimitSchema {
  type?: string;
  $ref?: string;
  allOf?: unknown[];
  items?: LimitSchema;
  properties?: Record<string, LimitSchema>;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  enum?: unknown[];
  format?: string;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
}

/** A class class-validator holds metadata for. */
type Target = abstract new (...args: never[]) => unknown;

interface ConstraintMeta {
  name?: string;
  propertyName: string;
  constraints?: unknown[];
  each?: boolean;
}

interface Parameter {
  name: string;
  in: string;
  schema?: LimitSchema;
}

/**
 * Writes the limits class-validator enforces onto the OpenAPI document, in one pass, from its
 * own metadata (`getMetadataStorage()`), so the document cannot say less than the validator
 * does: @Min/@Max → minimum/maximum, @Length/@MinLength/@MaxLength → minLength/maxLength,
 * @Matches → pattern, @IsIn → enum, @IsInt → integer, @IsUUID → format uuid,
 * @ArrayMinSize/@ArrayMaxSize → minItems/maxItems, @ArrayUnique → uniqueItems; with
 * `{ each: true }` onto the array's items.
 *
 * Where: every component schema named as a validated class (the schemas of request bodies and
 * their nested DTOs), and every query and path parameter of an operation whose handler takes a
 * validated DTO with `@Query()`/`@Param()` (matched by property name). A value an
 * `@ApiProperty` states already stays: it is what the route enforces on top (e.g. a batch
 * limit read from the configuration, below the DTO's ceiling).
 */
export function documentLimits(document: OpenAPIObject, app: INestApplication): void {
  const byName = validatedClassesByName();
  const schemas = (document.components?.schemas ?? {}) as Record<string, LimitSchema>;
  for (const [name, schema] of Object.entries(schemas)) {
    const target = byName.get(name);
    if (target && schema.properties) applyToProperties(schema.properties, target);
  }
  const operations = operationsById(document);
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as (new (...args: never[]) => object) | null;
      if (!controller) continue;
      for (const method of Object.getOwnPropertyNames(controller.prototype)) {
        const handler = (controller.prototype as Record<string, unknown>)[method];
        if (typeof handler !== 'function') continue;
        if (Reflect.getMetadata(METHOD_METADATA, handler) === undefined) continue;
        if (Reflect.getMetadata(PATH_METADATA, handler) === undefined) continue;
        const parameters = operations.get(`${controller.name}_${method}`);
        if (!parameters) continue;
        for (const { where, type } of dtoArguments(controller, method)) {
          const properties: Record<string, LimitSchema> = {};
          for (const p of parameters) if (p.in === where && p.schema) properties[p.name] = p.schema;
          applyToProperties(properties, type);
        }
      }
    }
  }
}

/** Each class with validation metadata, by its name; a name two classes share is left out. */
function validatedClassesByName(): Map<string, Target> {
  const storage = getMetadataStorage() as unknown as {
    validationMetadatas: Map<Target | string, unknown[]>;
  };
  const byName = new Map<string, Target>();
  const shared = new Set<string>();
  for (const target of storage.validationMetadatas.keys()) {
    if (typeof target !== 'function') continue;
    const existing = byName.get(target.name);
    if (existing && existing !== target) shared.add(target.name);
    byName.set(target.name, target);
  }
  for (const name of shared) byName.delete(name);
  return byName;
}

/** The metadata the ValidationPipe checks for a class (its own and its parents'). */
function constraintsOf(target: Target): ConstraintMeta[] {
  return getMetadataStorage().getTargetValidationMetadatas(target, '', true, false);
}

function applyToProperties(properties: Record<string, LimitSchema>, target: Target): void {
  for (const meta of constraintsOf(target)) {
    const property = properties[meta.propertyName];
    if (!property) continue;
    if (meta.each) {
      if (property.items && !property.items.$ref) applyConstraint(property.items, meta);
    } else if (!property.$ref && !property.allOf) {
      applyConstraint(property, meta);
    }
  }
}

/** One constraint onto one schema; a value the schema states already is kept. */
export function applyConstraint(schema: LimitSchema, meta: ConstraintMeta): void {
  const [first, second] = meta.constraints ?? [];
  const set = <K extends keyof LimitSchema>(key: K, value: LimitSchema[K] | undefined): void => {
    if (value !== undefined && schema[key] === undefined) schema[key] = value;
  };
  const number = (value: unknown): number | undefined =>
    typeof value === 'number' && Number.isFinite(value) ? value : undefined;
  switch (meta.name) {
    case 'min':
      set('minimum', number(first));
      break;
    case 'max':
      set('maximum', number(first));
      break;
    case 'isLength':
      set('minLength', number(first));
      set('maxLength', number(second));
      break;
    case 'minLength':
      set('minLength', number(first));
      break;
    case 'maxLength':
      set('maxLength', number(first));
      break;
    case 'matches':
      set('pattern', patternOf(first, second));
      break;
    case 'isIn':
      if (Array.isArray(first)) set('enum', [...(first as unknown[])]);
      break;
    case 'isInt':
      if (schema.type === 'number' || schema.type === undefined) schema.type = 'integer';
      break;
    case 'isUuid':
      set('format', 'uuid');
      break;
    case 'isLatitude':
      set('minimum', -90);
      set('maximum', 90);
      break;
    case 'isLongitude':
      set('minimum', -180);
      set('maximum', 180);
      break;
    case 'arrayMinSize':
      set('minItems', number(first));
      break;
    case 'arrayMaxSize':
      set('maxItems', number(first));
      break;
    case 'arrayUnique':
      set('uniqueItems', true);
      break;
    default:
      break; // a check with no schema keyword (isString, isObject, a custom validator…)
  }
}

/**
 * A JSON Schema pattern (ECMA-262, no flags) for @Matches' RegExp or string and modifiers;
 * none when it takes flags a pattern cannot carry (`i`, `m`, `s`: the document would say less
 * or other than the check).
 */
function patternOf(pattern: unknown, modifiers: unknown): string | undefined {
  const source =
    pattern instanceof RegExp ? pattern.source : typeof pattern === 'string' ? pattern : undefined;
  const flags =
    pattern instanceof RegExp ? pattern.flags : typeof modifiers === 'string' ? modifiers : '';
  if (source === undefined || /[ims]/.test(flags)) return undefined;
  return source;
}

/** The DTO classes a handler takes with `@Query()` or `@Param()` (whole, not one field). */
function dtoArguments(
  controller: new (...args: never[]) => object,
  method: string,
): { where: 'query' | 'path'; type: Target }[] {
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, method) ?? {}) as Record<
    string,
    { index: number; data?: unknown }
  >;
  const prototype = controller.prototype as object;
  const types = (Reflect.getMetadata('design:paramtypes', prototype, method) ?? []) as unknown[];
  const found: { where: 'query' | 'path'; type: Target }[] = [];
  for (const [key, { index, data }] of Object.entries(args)) {
    const kind = Number(key.split(':')[0]);
    const type = types[index] as Target | undefined;
    if (data !== undefined || typeof type !== 'function') continue;
    if (kind === Number(RouteParamtypes.QUERY)) found.push({ where: 'query', type });
    else if (kind === Number(RouteParamtypes.PARAM)) found.push({ where: 'path', type });
  }
  return found;
}

function operationsById(document: OpenAPIObject): Map<string, Parameter[]> {
  const byId = new Map<string, Parameter[]>();
  for (const item of Object.values(document.paths)) {
    for (const [verb, op] of Object.entries(item as Record<string, unknown>)) {
      if (!(verb.toUpperCase() in RequestMethod) || !op || typeof op !== 'object') continue;
      const { operationId, parameters } = op as { operationId?: string; parameters?: Parameter[] };
      if (operationId && parameters) byId.set(operationId, parameters);
    }
  }
  return byId;
}
