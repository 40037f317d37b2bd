/**
 * The part of class-validator this API uses, each export loaded from its own file.
 *
 * class-validator's index loads every decorator it has, and with them all of `validator` and
 * `libphonenumber-js`: ~320 modules, about a sixth of what the server loads at boot, for
 * phone, IBAN, credit-card… checks no DTO makes. Importing each decorator from its file loads
 * ~50. The metadata storage and the container are global, so these are the very functions the
 * index exports (`validators.spec.ts` checks each is identical), and the decorators register
 * exactly what they register through the index.
 *
 * Import validation decorators from here (`@app/common`), never from 'class-validator' (ESLint
 * refuses it; `test/store-loading.e2e-spec.ts` fails if the index is loaded at boot). A
 * decorator not listed yet: add one line.
 */
import type * as ClassValidator from 'class-validator';
import type { ValidationError, ValidatorOptions } from 'class-validator';

type Api = typeof ClassValidator;

/** `name` from class-validator's own file `cjs/<path>.js` (no exports map: a plain path). */
function load<K extends keyof Api>(path: string, name: K): Api[K] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const exported = (require(`class-validator/cjs/${path}`) as Partial<Api>)[name];
  if (exported === undefined) throw new Error(`class-validator/cjs/${path} has no ${name}`);
  return exported;
}

export type {
  ValidationArguments,
  ValidationError,
  ValidationOptions,
  ValidatorConstraintInterface,
  ValidatorOptions,
} from 'class-validator';

// common
export const IsIn = load('decorator/common/IsIn', 'IsIn');
export const IsLatitude = load('decorator/common/IsLatitude', 'IsLatitude');
export const IsLongitude = load('decorator/common/IsLongitude', 'IsLongitude');
export const IsOptional = load('decorator/common/IsOptional', 'IsOptional');
export const Validate = load('decorator/common/Validate', 'Validate');
export const ValidatorConstraint = load('decorator/common/Validate', 'ValidatorConstraint');
export const ValidateIf = load('decorator/common/ValidateIf', 'ValidateIf');
export const ValidateNested = load('decorator/common/ValidateNested', 'ValidateNested');
export const registerDecorator = load('register-decorator', 'registerDecorator');
// type checkers
export const IsArray = load('decorator/typechecker/IsArray', 'IsArray');
export const IsInt = load('decorator/typechecker/IsInt', 'IsInt');
export const IsNumber = load('decorator/typechecker/IsNumber', 'IsNumber');
export const IsObject = load('decorator/typechecker/IsObject', 'IsObject');
export const IsString = load('decorator/typechecker/IsString', 'IsString');
// numbers
export const Max = load('decorator/number/Max', 'Max');
export const Min = load('decorator/number/Min', 'Min');
// strings
export const IsBase64 = load('decorator/string/IsBase64', 'IsBase64');
export const IsISO8601 = load('decorator/string/IsISO8601', 'IsISO8601');
export const IsUUID = load('decorator/string/IsUUID', 'IsUUID');
export const Length = load('decorator/string/Length', 'Length');
export const Matches = load('decorator/string/Matches', 'Matches');
export const MaxLength = load('decorator/string/MaxLength', 'MaxLength');
export const MinLength = load('decorator/string/MinLength', 'MinLength');
// arrays
export const ArrayMaxSize = load('decorator/array/ArrayMaxSize', 'ArrayMaxSize');
export const ArrayMinSize = load('decorator/array/ArrayMinSize', 'ArrayMinSize');
export const ArrayUnique = load('decorator/array/ArrayUnique', 'ArrayUnique');

export const getMetadataStorage = load('metadata/MetadataStorage', 'getMetadataStorage');
const getFromContainer = load('container', 'getFromContainer');
const Validator = load('validation/Validator', 'Validator');

/** class-validator's `validate(object, options)` (the index's function, without schemas). */
export function validate(object: object, options?: ValidatorOptions): Promise<ValidationError[]> {
  return getFromContainer(Validator).validate(object, options);
}

/** class-validator's `validateSync(object, options)`. */
export function validateSync(object: object, options?: ValidatorOptions): ValidationError[] {
  return getFromContainer(Validator).validateSync(object, options);
}

/** What Nest's ValidationPipe needs as its `validatorPackage`, so it does not load the index. */
export const validatorPackage = { validate, getMetadataStorage };
