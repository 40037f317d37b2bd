import type Redis from 'ioredis';

/**
 * What Redis evicts under `maxmemory` (`maxmemory-policy`), and whether MDAI's keys survive it.
 * Only `noeviction` evicts nothing: a write over the limit fails instead. A `volatile-*` policy
 * evicts exactly the keys with a TTL, which are the live ones: the relay's slot keys (a slot
 * evicted is handed to another socket while its holder still has it), the legacy apps' `used`
 * marks (a session's one use spent again), the kiosk presence and the rate-limit counters (a
 * limit starts over). An `allkeys-*` policy evicts those and the relay slot store's run and
 * epoch keys (no TTL), each time opening a resync window (free slots held back for one slot
 * TTL) as if Redis had restarted. With `maxmemory` 0 (no limit, Redis's default) nothing is
 * evicted whatever the policy. `unknown`: the Redis forbids CONFIG (an ACL user without it, a
 * managed Redis that renamed it) or did not answer.
 */
export interface EvictionPolicy {
  policy: string;
  /** `maxmemory` in bytes as Redis reports it ('0': no limit), or 'unknown'. */
  maxmemory: string;
  /** Set when Redis may evict MDAI's keys (no secret: a policy name). */
  warning?: string;
}

const ASK_TIMEOUT_MS = 2000;

export function describeEvictionPolicy(policy: string, maxmemory: string): EvictionPolicy {
  // maxmemory 0: Redis never evicts; noeviction: never either; unknown: nothing to say
  if (maxmemory === '0' || policy === 'noeviction' || policy === 'unknown')
    return { policy, maxmemory };
  return { policy, maxmemory, warning: evictionWarning(policy) };
}

function evictionWarning(policy: string): string {
  const prefix = `Redis maxmemory-policy is ${policy} (maxmemory set)`;
  const live =
    "the relay's live slot keys (another socket then takes a slot still held), the legacy apps' used marks (a session's one use spent again), the kiosk presence and the rate-limit counters (a limit starts over)";
  const fix = 'set maxmemory-policy to noeviction';
  if (policy.startsWith('volatile-'))
    return `${prefix}: under memory pressure it evicts the keys with a TTL, which are ${live}; ${fix}`;
  if (policy.startsWith('allkeys-'))
    return (
      `${prefix}: it may evict the relay slot store's run and epoch (keys without a TTL), and ` +
      `each eviction holds back free relay slots for one slot TTL, and ${live}; ${fix}`
    );
  return `${prefix}: it may evict ${live}; ${fix}`;
}

/**
 * `CONFIG GET maxmemory-policy` and `maxmemory` (bounded in time); `unknown` when refused.
 * `answered` is false when Redis did not answer in time (not a refusal: worth asking again).
 */
export async function readEvictionPolicy(
  client: Redis,
): Promise<EvictionPolicy & { answered: boolean }> {
  const [policy, maxmemory] = await Promise.all([
    configValue(client, 'maxmemory-policy'),
    configValue(client, 'maxmemory'),
  ]);
  return {
    ...describeEvictionPolicy(policy ?? 'unknown', maxmemory ?? 'unknown'),
    answered: policy !== undefined && maxmemory !== undefined,
  };
}

/** The value; 'unknown' when refused; undefined when Redis did not answer (in time). */
async function configValue(client: Redis, name: string): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ASK_TIMEOUT_MS);
  });
  try {
    const reply: unknown = await Promise.race([
      // a refusal (NOPERM, a renamed CONFIG) is an answer; a connection that failed is not
      client
        .config('GET', name)
        .catch((error: Error) => (error.name === 'ReplyError' ? undefined : 'timeout')),
      timeout,
    ]);
    if (reply === 'timeout') return undefined;
    const value: unknown = Array.isArray(reply) ? reply[1] : undefined;
    return typeof value === 'string' && value !== '' ? value : 'unknown';
  } finally {
    clearTimeout(timer);
  }
}
