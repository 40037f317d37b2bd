import { ValidationError, ValidationPipe } from '@nestjs/common';
import { CommonError } from './common.errors';
import { FieldError } from './domain-error';
import { validatorPackage } from '../validation/validators';

function flatten(errors: ValidationError[], prefix = ''): FieldError[] {
  return errors.flatMap((error) => {
    const field = prefix ? `${prefix}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => ({
      field,
      // class-validator puts the property name first; the field is already named
      message: message.startsWith(`${error.property} `)
        ? message.slice(error.property.length + 1)
        : message,
    }));
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

/** Rejects unknown fields, converts types, and answers 400 `validation_failed` with the fields. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    // class-validator's functions from their own files: its index loads ~270 modules we never use
    validatorPackage,
    // never echo what the client sent: it may be a password or a key
    validationError: { target: false, value: false },
    exceptionFactory: (errors) =>
      new CommonError('validation_failed', 'The request is invalid', flatten(errors)),
  });
}
