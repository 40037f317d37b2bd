/**
 * The `@nestjs/swagger` decorators this API uses, applied when the OpenAPI document is built
 * rather than when a controller or DTO file is loaded.
 *
 * `@nestjs/swagger` has one entry point (its `exports` map forbids its files), and that index
 * loads ~110 modules, all of `lodash` with them: ~2.4 MiB of heap and ~65 ms of boot CPU for
 * metadata nothing reads until someone asks for `/docs` or `npm run openapi` runs. Each
 * decorator here has the very type of swagger's own (`import type`: no runtime load) and, when a
 * class is decorated, records its arguments and the decorated target, property and descriptor.
 * `applyOpenApiDecorators()` (called by `buildOpenApi` before every scan) loads swagger and
 * applies the recorded decorators in the order TypeScript applied these, so swagger's metadata
 * ends up exactly as if its decorators had run at load time (`docs.e2e-spec.ts` checks the
 * document against docs/openapi.json; `openapi-decorators.spec.ts` checks the metadata).
 *
 * Import OpenAPI decorators from here (`@app/common`), never from '@nestjs/swagger' (ESLint
 * refuses runtime imports of it; `test/store-loading.e2e-spec.ts` fails if it loads at boot).
 * A decorator not listed yet: add one line.
 */
import type * as Swagger from '@nestjs/swagger';

type Api = typeof Swagger;

interface Application {
  name: keyof Api;
  args: unknown[];
  target: object;
  key: string | symbol | undefined;
  descriptor: PropertyDescriptor | undefined;
}

/** Decorations recorded since the last `applyOpenApiDecorators()`, in application order. */
const pending: Application[] = [];

/** Swagger's decorator `name`, recorded now and applied by `applyOpenApiDecorators()`. */
function deferred<K extends keyof Api>(name: K): Api[K] {
  const factory =
    (...args: unknown[]) =>
    (target: object, key?: string | symbol, descriptor?: PropertyDescriptor): void => {
      pending.push({ name, args, target, key, descriptor });
    };
  return factory as unknown as Api[K];
}

export const ApiBearerAuth = deferred('ApiBearerAuth');
export const ApiBody = deferred('ApiBody');
export const ApiConsumes = deferred('ApiConsumes');
export const ApiCreatedResponse = deferred('ApiCreatedResponse');
export const ApiExcludeController = deferred('ApiExcludeController');
export const ApiHeader = deferred('ApiHeader');
export const ApiOkResponse = deferred('ApiOkResponse');
export const ApiOperation = deferred('ApiOperation');
export const ApiProduces = deferred('ApiProduces');
export const ApiProperty = deferred('ApiProperty');
export const ApiPropertyOptional = deferred('ApiPropertyOptional');
export const ApiResponse = deferred('ApiResponse');
export const ApiSecurity = deferred('ApiSecurity');
export const ApiServiceUnavailableResponse = deferred('ApiServiceUnavailableResponse');
export const ApiTags = deferred('ApiTags');

/** Loads `@nestjs/swagger` (once; Node caches it) and returns its exports. */
export function loadSwagger(): Api {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@nestjs/swagger') as Api;
}

/**
 * Applies, through `@nestjs/swagger` itself, every decorator recorded so far (each once), so
 * its metadata is complete before a document is scanned. Decorations recorded later (a module
 * loaded afterwards) are applied by the next call.
 */
export function applyOpenApiDecorators(): void {
  if (pending.length === 0) return;
  const swagger = loadSwagger();
  for (const { name, args, target, key, descriptor } of pending.splice(0)) {
    const factory = swagger[name] as unknown as (
      ...args: unknown[]
    ) => (target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => unknown;
    factory(...args)(target, key, descriptor);
  }
}
