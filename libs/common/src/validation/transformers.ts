/**
 * The part of class-transformer this API uses, each loaded from its own file.
 *
 * class-transformer's index loads every decorator, interface and enum it has (34 modules at
 * boot); `Type`, `Transform` and the `ClassTransformer` the index's functions call are 13.
 * The metadata storage is the package's global one (`cjs/storage.js`), so the decorators
 * register exactly what they register through the index, and `plainToInstance` /
 * `instanceToPlain` are the index's own one-liners over a `ClassTransformer` (which keeps no
 * state). `transformers.spec.ts` checks the decorators are the index's very functions and that
 * both functions answer as the index's do.
 *
 * Import these from `@app/common`, never from 'class-transformer' (ESLint refuses it;
 * `test/store-loading.e2e-spec.ts` fails if the index is loaded at boot).
 */
import type * as ClassTransformerApi from 'class-transformer';
import type { ClassConstructor, ClassTransformOptions as Options } from 'class-transformer';

type Api = typeof ClassTransformerApi;

/** `name` from class-transformer's own file `cjs/<path>.js` (no exports map: a plain path). */
function load<K extends keyof Api>(path: string, name: K): Api[K] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const exported = (require(`class-transformer/cjs/${path}`) as Partial<Api>)[name];
  if (exported === undefined) throw new Error(`class-transformer/cjs/${path} has no ${name}`);
  return exported;
}

export type { ClassTransformOptions, TransformFnParams } from 'class-transformer';

export const Type = load('decorators/type.decorator', 'Type');
export const Transform = load('decorators/transform.decorator', 'Transform');

const transformer = new (load('ClassTransformer', 'ClassTransformer'))();

/** class-transformer's `plainToInstance(cls, plain, options)`. */
export const plainToInstance = ((cls: ClassConstructor<object>, plain: object, options?: Options) =>
  transformer.plainToInstance(cls, plain, options)) as unknown as Api['plainToInstance'];

/** class-transformer's `instanceToPlain(object, options)` (what its `classToPlain` calls too). */
export const instanceToPlain = ((object: object, options?: Options) =>
  transformer.instanceToPlain(object, options)) as unknown as Api['instanceToPlain'];

/** What Nest's ValidationPipe needs as its `transformerPackage`, so it does not load the index. */
export const transformerPackage = { plainToInstance, classToPlain: instanceToPlain };
