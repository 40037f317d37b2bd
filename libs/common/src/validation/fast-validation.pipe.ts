import { ArgumentMetadata, ValidationPipe, ValidationPipeOptions } from '@nestjs/common';
import type { MetadataStorage } from 'class-validator';
import { getMetadataStorage } from './validators';

type ValidationMetadata = ReturnType<MetadataStorage['getTargetValidationMetadatas']>[number];
type ConstraintMetadata = ReturnType<MetadataStorage['getTargetValidatorConstraints']>[number];
type Ctor = new () => object;

/** class-validator's metadata types (`ValidationTypes`) */
const CUSTOM = 'customValidation';
const CONDITIONAL = 'conditionalValidation';
const IS_DEFINED = 'isDefined';
const WHITELIST = 'whitelistValidation';

/** class-transformer's `TransformationType.PLAIN_TO_CLASS` */
const PLAIN_TO_CLASS = 0;

/** The part of class-transformer's metadata storage read here (its global one). */
interface TransformerStorage {
  findTypeMetadata(
    target: unknown,
    property: string,
  ):
    | {
        typeFunction?: (options: unknown) => unknown;
        reflectedType?: unknown;
        options?: { discriminator?: unknown };
      }
    | undefined;
  findTransformMetadatas(target: unknown, property: string, type: number): unknown[];
  getExposedMetadatas(target: unknown): unknown[];
  getExcludedMetadatas(target: unknown): unknown[];
  addTypeMetadata(metadata: unknown): void;
  addTransformMetadata(metadata: unknown): void;
  addExposeMetadata(metadata: unknown): void;
  addExcludeMetadata(metadata: unknown): void;
}

/** class-transformer's global metadata storage (the one its decorators write to) */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const transformerModule = require('class-transformer/cjs/storage') as {
  defaultMetadataStorage: TransformerStorage;
};
const transformerStorage = transformerModule.defaultMetadataStorage;

/** One rule of a property: a custom constraint (with its class's validators) or a condition. */
interface Check {
  metadata: ValidationMetadata;
  constraints: ConstraintMetadata[];
}

interface PropertyPlan {
  /** class-transformer's conversion of a primitive for this property (`@Type(() => Number)`…) */
  convert?: NumberConstructor | StringConstructor | BooleanConstructor;
  conditions: ValidationMetadata[];
  defined: Check[];
  custom: Check[];
}

interface Plan {
  /** per property with rules, in the order class-validator visits them */
  properties: Map<string, PropertyPlan>;
}

/**
 * Bumped whenever a rule (class-validator) or a transformation (class-transformer) is added
 * anywhere: plans made before are made again (a class's rules are fixed once its decorators ran,
 * which is before the first request; this keeps a late decorator from being missed).
 */
let version = 0;
let watching = false;

function watchMetadata(storage: MetadataStorage): void {
  if (watching) return;
  watching = true;
  const wrap = <T extends object, K extends keyof T>(target: T, key: K) => {
    const original = (target[key] as (...args: unknown[]) => unknown).bind(target);
    target[key] = ((...args: unknown[]) => {
      version++;
      return original(...args);
    }) as T[K];
  };
  wrap(storage, 'addValidationMetadata');
  wrap(storage, 'addConstraintMetadata');
  wrap(transformerStorage, 'addTypeMetadata');
  wrap(transformerStorage, 'addTransformMetadata');
  wrap(transformerStorage, 'addExposeMetadata');
  wrap(transformerStorage, 'addExcludeMetadata');
}

/** The validator options this pipe knows the meaning of (any other: always the library). */
const KNOWN_OPTIONS = new Set(['whitelist', 'forbidNonWhitelisted', 'forbidUnknownValues']);

/**
 * Nest's `ValidationPipe`, with a shortcut for the values it would accept.
 *
 * For a DTO whose rules it fully understands (checked once per class, from class-validator's
 * and class-transformer's own metadata: per property only conditions such as `@IsOptional`,
 * synchronous constraints such as `@IsString`, `@IsInt`, `@Min`, `@MaxLength`, `@Matches`,
 * `@IsIn`, `@IsDefined`, `@Allow`, and at most a `@Type(() => Number | String | Boolean)`; no
 * nested or promised values, no `@Transform`/`@Expose`/`@Exclude`, no accessors), and a value
 * that is a plain object of primitives whose every key is a property with rules, it builds the
 * instance as class-transformer's `plainToInstance` does (`new Dto()`, then each key in order,
 * converted as its `@Type` says) and runs every rule of the class on it with class-validator's
 * own constraint functions, in class-validator's order and with its arguments.
 *
 * If every rule passes, that instance is the answer: what the library answers for that value.
 * If anything is off (a rule fails, a key is unknown, a value is an array or an object, a
 * constraint answers a promise, the class uses anything not listed), the value goes, untouched,
 * through `ValidationPipe.transform`: every 400 is the library's own. `fast-validation.pipe.spec.ts`
 * compares both on valid and hostile values.
 */
export class FastValidationPipe extends ValidationPipe {
  private readonly plans = new Map<unknown, { version: number; plan: Plan | null }>();
  private readonly storage = getMetadataStorage();
  private readonly understood: boolean;

  constructor(options: ValidationPipeOptions = {}) {
    super(options);
    watchMetadata(this.storage);
    const {
      validatorPackage: _v,
      transformerPackage: _t,
      exceptionFactory: _e,
      validationError: _ve,
      transform,
      ...validatorOptions
    } = options;
    this.understood =
      transform === true &&
      options.expectedType === undefined &&
      options.transformOptions === undefined &&
      options.validateCustomDecorators !== true &&
      Object.keys(validatorOptions).every((key) => KNOWN_OPTIONS.has(key));
  }

  // Typed as the library's (a promise); the instance is answered as it is, without one: Nest
  // awaits what a pipe answers, either way.
  override transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (this.understood) {
      const instance = this.accept(value, metadata);
      if (instance !== undefined) return instance as unknown as Promise<unknown>;
    }
    return super.transform(value, metadata);
  }

  /** The instance the library would answer for `value`, or undefined to ask the library. */
  private accept(value: unknown, metadata: ArgumentMetadata): object | undefined {
    const metatype = metadata.metatype as unknown;
    if (typeof metatype !== 'function' || !this.toValidate(metadata)) return undefined;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return undefined;
    const plan = this.plan(metatype as Ctor);
    if (!plan) return undefined;
    const plain = value as Record<string, unknown>;
    const keys = Object.keys(plain);
    for (const key of keys) {
      if (!plan.properties.has(key)) return undefined;
      const type = typeof plain[key];
      if (type !== 'string' && type !== 'number' && type !== 'boolean') return undefined;
    }
    // as plainToInstance: a new instance, then each key of the value in order
    const entity = new (metatype as Ctor)() as Record<string, unknown>;
    if (entity.constructor !== metatype) return undefined;
    for (const key of keys) {
      // plainToInstance leaves a key whose instance value is a function as it is
      if (entity[key] instanceof Function) return undefined;
      const convert = plan.properties.get(key)!.convert;
      entity[key] = convert ? convert(plain[key]) : plain[key];
    }
    // whitelist: every key of the instance (its own fields too) has rules
    for (const key of Object.keys(entity)) if (!plan.properties.has(key)) return undefined;
    for (const [property, rules] of plan.properties) {
      const current = entity[property];
      if (typeof current === 'object' && current !== null) return undefined;
      let applies = true;
      for (const condition of rules.conditions) {
        const constraint = condition.constraints[0] as (object: object, value: unknown) => unknown;
        applies = !!constraint(entity, current) && applies;
      }
      if (!applies) continue;
      if (!this.passes(entity, current, rules.defined)) return undefined;
      if (!this.passes(entity, current, rules.custom)) return undefined;
    }
    return entity;
  }

  /** Runs each check as class-validator's `customValidations` does; false if any fails. */
  private passes(entity: Record<string, unknown>, current: unknown, checks: Check[]): boolean {
    for (const { metadata, constraints } of checks) {
      const validateIf = (metadata as { validateIf?: (object: object, value: unknown) => unknown })
        .validateIf;
      if (validateIf && !validateIf(entity, current)) continue;
      for (const constraint of constraints) {
        const args = {
          targetName: entity.constructor ? entity.constructor.name : undefined,
          property: metadata.propertyName,
          object: entity,
          value: current,
          constraints: metadata.constraints,
        };
        const valid = (
          constraint.instance as { validate(value: unknown, args: unknown): unknown }
        ).validate(current, args);
        if (!valid || typeof (valid as { then?: unknown }).then === 'function') return false;
      }
    }
    return true;
  }

  private plan(metatype: Ctor): Plan | null {
    const known = this.plans.get(metatype);
    if (known && known.version === version) return known.plan;
    const compiledAt = version;
    let plan: Plan | null;
    try {
      plan = this.compile(metatype);
    } catch {
      plan = null;
    }
    this.plans.set(metatype, { version: compiledAt, plan });
    return plan;
  }

  /** The plan of a class, or null when the class uses anything this pipe does not model. */
  private compile(metatype: Ctor): Plan | null {
    // the very lookup class-validator makes (no groups, `always` and `strictGroups` off)
    const metadatas = this.storage.getTargetValidationMetadatas(
      metatype,
      undefined as unknown as string,
      false,
      false,
      undefined,
    );
    if (metadatas.length === 0) return null;
    if (
      transformerStorage.getExposedMetadatas(metatype).length > 0 ||
      transformerStorage.getExcludedMetadatas(metatype).length > 0
    ) {
      return null;
    }
    const grouped = this.storage.groupByPropertyName(metadatas);
    const properties = new Map<string, PropertyPlan>();
    for (const property of Object.keys(grouped)) {
      const rules = grouped[property];
      if (rules.length === 0) continue;
      if (property === '__proto__' || property === 'constructor' || property === 'prototype') {
        return null;
      }
      // plainToInstance skips a key the prototype has an accessor or method for
      if (Object.getOwnPropertyDescriptor(metatype.prototype, property)) return null;
      if (transformerStorage.findTransformMetadatas(metatype, property, PLAIN_TO_CLASS).length) {
        return null;
      }
      const plan: PropertyPlan = { conditions: [], defined: [], custom: [] };
      const type = transformerStorage.findTypeMetadata(metatype, property);
      if (type) {
        if (type.options?.discriminator || type.reflectedType === Map || !type.typeFunction) {
          return null;
        }
        const target = type.typeFunction({ newObject: {}, object: {}, property });
        if (target !== Number && target !== String && target !== Boolean) return null;
        plan.convert = target as PropertyPlan['convert'];
      }
      for (const rule of rules) {
        if (rule.type === CONDITIONAL) {
          if (typeof rule.constraints?.[0] !== 'function') return null;
          plan.conditions.push(rule);
        } else if (rule.type === CUSTOM || rule.type === IS_DEFINED) {
          const constraints = this.storage.getTargetValidatorConstraints(rule.constraintCls);
          if (constraints.some((constraint) => constraint.async)) return null;
          (rule.type === CUSTOM ? plan.custom : plan.defined).push({ metadata: rule, constraints });
        } else if (rule.type !== WHITELIST) {
          // nested, promised or schema rules: the library's
          return null;
        }
      }
      properties.set(property, plan);
    }
    return { properties };
  }
}
