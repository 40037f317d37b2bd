import * as swagger from '@nestjs/swagger';
import * as deferred from './openapi-decorators';

/** Every metadata entry (key → value) on the class, its prototype properties and its methods. */
function metadataOf(type: new () => object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const collect = (where: string, target: object, key?: string) => {
    const keys = (
      key === undefined
        ? Reflect.getOwnMetadataKeys(target)
        : Reflect.getOwnMetadataKeys(target, key)
    ) as string[];
    for (const k of keys.filter((k) => String(k).startsWith('swagger/')))
      out[`${where} ${k}`] =
        key === undefined
          ? Reflect.getOwnMetadata(k, target)
          : Reflect.getOwnMetadata(k, target, key);
  };
  collect('class', type);
  collect('prototype', type.prototype as object);
  for (const name of Object.getOwnPropertyNames(type.prototype)) {
    collect(`property ${name}`, type.prototype as object, name);
    const value = (type.prototype as Record<string, unknown>)[name];
    if (typeof value === 'function' && name !== 'constructor') collect(`method ${name}`, value);
  }
  // the two sets of classes are distinct: compare a class reference by its name
  return JSON.parse(
    JSON.stringify(out, (_key, value: unknown) =>
      typeof value === 'function'
        ? `class ${value.name}`
        : value === undefined
          ? '(undefined)'
          : value,
    ),
  ) as Record<string, unknown>;
}

/** The same decorations, with swagger's own decorators or with the deferred ones. */
function decorate(api: typeof deferred) {
  class Item {
    @api.ApiProperty({ description: 'the id', example: 'k-1' })
    id!: string;

    @api.ApiPropertyOptional({ enum: ['on', 'off'] })
    state?: string;

    @api.ApiProperty({ type: [Number], minimum: 0 })
    counts!: number[];
  }

  @api.ApiTags('things')
  @api.ApiSecurity('api-key')
  @api.ApiHeader({ name: 'x-trace', required: false })
  class Things {
    @api.ApiOperation({ summary: 'List' })
    @api.ApiOkResponse({ type: Item, isArray: true })
    @api.ApiResponse({ status: 404, description: 'none' })
    @api.ApiResponse({ status: 409, description: 'conflict' })
    @api.ApiProduces('application/json', 'text/csv')
    @api.ApiServiceUnavailableResponse({ description: 'down' })
    list(): Item[] {
      return [];
    }

    @api.ApiBearerAuth('offline-token')
    @api.ApiConsumes('application/octet-stream')
    @api.ApiBody({ type: Item })
    @api.ApiCreatedResponse({ type: Item })
    create(): void {}
  }

  @api.ApiExcludeController()
  class Hidden {}
  return { Item, Things, Hidden };
}

describe('OpenAPI decorators (applied when the document is built)', () => {
  it('should leave exactly the metadata swagger’s own decorators leave, once applied', () => {
    const own = decorate(swagger as unknown as typeof deferred);
    const ours = decorate(deferred);
    expect(metadataOf(ours.Things)).toEqual({}); // nothing yet: recorded only
    deferred.applyOpenApiDecorators();
    for (const name of ['Item', 'Things', 'Hidden'] as const) {
      const expected = metadataOf(own[name]);
      expect(Object.keys(expected).length).toBeGreaterThan(0);
      expect([name, metadataOf(ours[name])]).toEqual([name, expected]);
    }
  });

  it('should apply each decoration once, however often the document is built', () => {
    const ours = decorate(deferred);
    deferred.applyOpenApiDecorators();
    const once = metadataOf(ours.Things);
    deferred.applyOpenApiDecorators();
    expect(metadataOf(ours.Things)).toEqual(once);
    expect(metadataOf(ours.Item)).toEqual(
      metadataOf(decorate(swagger as unknown as typeof deferred).Item),
    );
  });

  it('should offer every decorator it exports under swagger’s name', () => {
    const names = Object.keys(deferred).filter((n) => n.startsWith('Api'));
    expect(names.length).toBeGreaterThanOrEqual(15);
    for (const name of names)
      expect([name, typeof swagger[name as keyof typeof swagger]]).toEqual([name, 'function']);
  });
});
