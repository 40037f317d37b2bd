import type Redis from 'ioredis';

/**
 * What Redis evicts under `maxmemory` (`maxmemory-policy`), and whether the relay's slot store
 * survives it. The store's run and epoch keys (`mdai:relay:run`, `mdai:relay:epoch`) carry no
 * TTL: an `allkeys-*` policy may evict them, which each time opens a resync window (free slots
 * held back for one slot TTL) as if Redis had restarted. `noeviction` and `volatile-*` never
 * evict a key without a TTL. `unknown`: the Redis forbids CONFIG (an ACL user without it, a
 * managed Redis that renamed it) or did not answer.
 */
export interface EvictionPolicy {
  policy: string;
  /** `maxmemory` in bytes as Redis reports it ('0': no limit), or 'unknown'. */
  maxmemory: string;
  /** Set when the policy can evict the run and epoch keys (no secret: a policy name). */
  warning?: string;
}

const EVICTING = /^allkeys-/;
const ASK_TIMEOUT_MS = 2000;

export function describeEvictionPolicy(policy: string, maxmemory: string): EvictionPolicy {
  if (!EVICTING.test(policy)) return { policy, maxmemory };
  return {
    policy,
    maxmemory,
    warning:
      `Redis maxmemory-policy is ${policy}: it may evict the relay slot store's run and epoch ` +
      '(keys without a TTL), and each eviction holds back free relay slots for one slot TTL; ' +
      'set maxmemory-policy to noeviction (or a volatile-* policy)',
  };
}

/** `CONFIG GET maxmemory-policy` and `maxmemory` (bounded in time); `unknown` when refused. */
export async function readEvictionPolicy(client: Redis): Promise<EvictionPolicy> {
  const [policy, maxmemory] = await Promise.all([
    configValue(client, 'maxmemory-policy'),
    configValue(client, 'maxmemory'),
  ]);
  return describeEvictionPolicy(policy, maxmemory);
}

async function configValue(client: Redis, name: string): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ASK_TIMEOUT_MS);
  });
  try {
    const reply: unknown = await Promise.race([
      client.config('GET', name).catch(() => undefined),
      timeout,
    ]);
    const value: unknown = Array.isArray(reply) ? reply[1] : undefined;
    return typeof value === 'string' && value !== '' ? value : 'unknown';
  } finally {
    clearTimeout(timer);
  }
}
