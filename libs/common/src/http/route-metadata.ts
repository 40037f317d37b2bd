import { Reflector } from '@nestjs/core';

/**
 * A Reflector that remembers what it read: per-request guards (the rate limiter reads 12
 * metadata keys per request, the API-key guard 4) ask the same handler and class the same
 * keys on every request, and `Reflect.getMetadata` walks the prototype chain each time.
 * Route metadata is written by decorators when classes are defined, before any request, so a
 * value read once stays right. Keys are cached per target; a target is never held alive here.
 */
export class CachedReflector extends Reflector {
  private readonly cache = new WeakMap<object, Map<unknown, unknown>>();

  override get<T = unknown>(metadataKey: unknown, target: object): T {
    let byKey = this.cache.get(target);
    if (!byKey) this.cache.set(target, (byKey = new Map()));
    if (byKey.has(metadataKey)) return byKey.get(metadataKey) as T;
    const value: T = super.get(metadataKey as string, target as never);
    byKey.set(metadataKey, value);
    return value;
  }
}
