import { ValidationError, ValidationPipe, ValidationPipeOptions } from '@nestjs/common';
import type { MetadataStorage } from 'class-validator';
import { CommonError } from './common.errors';
import { FieldError } from './domain-error';
import { getMetadataStorage, validatorPackage } from '../validation/validators';
import { transformerPackage } from '../validation/transformers';
import { FastValidationPipe } from '../validation/fast-validation.pipe';
import { invertedRangeOnly } from '../time/time-range.validators';

/** class-validator's checks of a value's type (by constraint name). */
const TYPE_CHECKS = new Set([
  'isInt',
  'isNumber',
  'isString',
  'isBoolean',
  'isArray',
  'isObject',
  'isDate',
  'isDateString',
  'isISO8601',
  'isNumberString',
  'isBooleanString',
]);

/** Checks whose message about a null says more than "must not be null" (by constraint name). */
const NULL_AWARE = new Set(['onlyForActions']);

/** class-validator puts the property name first; the field is already named. */
function stripProperty(message: string, property: string): string {
  return message.startsWith(`${property} `) ? message.slice(property.length + 1) : message;
}

/**
 * One entry per failed check, named by its field; a value of the wrong type gets only its type
 * checks' entries. A required field that is absent gets one entry, "is required", and a null
 * one "must not be null" (null is never taken for a field left out: see IsOmittable), instead
 * of every check its missing value fails; the others come in the order their checks are
 * written on the DTO (class-validator lists them the other way round: decorators apply from the
 * bottom up). The value itself is never put in an entry.
 */
function flatten(errors: ValidationError[], prefix = ''): FieldError[] {
  return errors.flatMap((error) => {
    const field = prefix ? `${prefix}.${error.property}` : error.property;
    const constraints = error.constraints ?? {};
    // a field sent that should not be there is named as such, whatever its value
    const checked = Object.keys(constraints).length > 0 && !('whitelistValidation' in constraints);
    if (checked && error.value === undefined) return [{ field, message: 'is required' }];
    // null is a value, not a field left out (see IsOmittable): said as such, unless a check
    // knows better (a field of other actions only says so, whatever its value)
    if (checked && error.value === null) {
      const own = Object.keys(constraints).filter((name) => NULL_AWARE.has(name));
      return own.length > 0
        ? own.map((name) => ({ field, message: stripProperty(constraints[name], error.property) }))
        : [{ field, message: 'must not be null' }];
    }
    // a value of the wrong type is told only that: "must not be less than 1" says nothing of
    // "abc" that "must be an integer" does not
    const typeChecks = Object.keys(constraints).filter((name) => TYPE_CHECKS.has(name));
    const shown =
      typeChecks.length > 0
        ? typeChecks.map((name) => constraints[name])
        : Object.values(constraints);
    const own = shown.reverse().map((message) => ({
      field,
      message: stripProperty(message, error.property),
    }));
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

type ValidationMetadata = ReturnType<MetadataStorage['getTargetValidationMetadatas']>[number];
const memoized = new WeakSet<MetadataStorage>();

/**
 * class-validator looks up a class's rules on every validation, and the lookup walks every
 * class with rules in the process (to find inherited ones): O(all DTOs) per request. The rules
 * of a class are fixed once its decorators ran, so the lookup (and its grouping by property)
 * is remembered per class and options, and forgotten whenever a rule is added anywhere.
 * Validation itself runs in full on every call.
 */
export function memoizeValidationMetadata(storage: MetadataStorage = getMetadataStorage()): void {
  if (memoized.has(storage)) return;
  memoized.add(storage);
  let lookups = new Map<unknown, Map<string, ValidationMetadata[]>>();
  let groupings = new WeakMap<ValidationMetadata[], Record<string, ValidationMetadata[]>>();
  const forget = () => {
    lookups = new Map();
    groupings = new WeakMap();
  };
  const addValidation = storage.addValidationMetadata.bind(storage);
  const addConstraint = storage.addConstraintMetadata.bind(storage);
  const lookup = storage.getTargetValidationMetadatas.bind(storage);
  const group = storage.groupByPropertyName.bind(storage);
  storage.addValidationMetadata = (metadata) => {
    forget();
    addValidation(metadata);
  };
  storage.addConstraintMetadata = (metadata) => {
    forget();
    addConstraint(metadata);
  };
  storage.getTargetValidationMetadatas = (target, schema, always, strictGroups, groups) => {
    const options = `${schema}\u0000${always}\u0000${strictGroups}\u0000${(groups ?? []).join('\u0000')}`;
    let byOptions = lookups.get(target);
    if (!byOptions) lookups.set(target, (byOptions = new Map<string, ValidationMetadata[]>()));
    let found = byOptions.get(options);
    if (!found)
      byOptions.set(options, (found = lookup(target, schema, always, strictGroups, groups)));
    return found;
  };
  storage.groupByPropertyName = (metadatas) => {
    let grouped = groupings.get(metadatas);
    if (!grouped) groupings.set(metadatas, (grouped = group(metadatas)));
    return grouped;
  };
}

/** The options of the app's ValidationPipe (exported for the spec that compares it with ours). */
export function validationPipeOptions(): ValidationPipeOptions {
  return {
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    // class-validator's functions from their own files: its index loads ~270 modules we never use
    validatorPackage,
    // and class-transformer's from theirs: its index loads ~20 modules more
    transformerPackage,
    // the value only tells a missing field (see flatten); it is never echoed: it may be a
    // password or a key
    validationError: { target: false, value: true },
    // a range whose only fault is its order has its own code, the same on every listing
    exceptionFactory: (errors) =>
      invertedRangeOnly(errors)
        ? new CommonError('invalid_period', 'The range ends before it starts', flatten(errors))
        : new CommonError('validation_failed', 'The request is invalid', flatten(errors)),
  };
}

/**
 * Rejects unknown fields, converts types, and answers 400 `validation_failed` with the fields
 * (400 `invalid_period` when the only fault is a range's `to` before its `from`).
 * Nest's ValidationPipe, with the shortcut of `FastValidationPipe` for values it accepts.
 */
export function createValidationPipe(): ValidationPipe {
  memoizeValidationMetadata();
  return new FastValidationPipe(validationPipeOptions());
}
