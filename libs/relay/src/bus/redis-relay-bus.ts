import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { EvictionPolicy, readEvictionPolicy } from '@app/common';
import { RelayRole } from '../protocol/messages';
import {
  BusEnvelope,
  BusUnavailableError,
  EnvelopeHandler,
  HeldSlot,
  KioskNotice,
  KioskNoticeHandler,
  RelayBus,
  SlotClaim,
} from './relay-bus';

const CHANNEL_PREFIX = 'mdai:relay:s:';
const SLOT_PREFIX = 'mdai:relay:slot:';
const USED_PREFIX = 'mdai:relay:used:';
/** Kiosk notices, to every instance (outside CHANNEL_PREFIX: no session's channel). */
const KIOSK_CHANNEL = 'mdai:relay:kiosks';
/**
 * Which slot store this is: a random value set once by the first instance to reach it, kept
 * without TTL, and set anew when the store is found replaced (`STORE_RUN`). Missing when Redis
 * restarted empty (or lost its keys): the slots went with it.
 */
const EPOCH_KEY = 'mdai:relay:epoch';
/** Present (PX the resync window) while the slot store resyncs after it came back. */
const RESYNC_KEY = 'mdai:relay:resync';
/**
 * The `run_id` (INFO server) of the Redis process the slots were taken on. Redis draws a new one
 * at every start: a Redis that came back from a snapshot (RDB or AOF, the shipped redis:7-alpine
 * saves to its /data volume) brings the epoch back unchanged but not this, and has lost every
 * slot taken after the snapshot, and holds ones since released or taken by another socket.
 */
const RUN_KEY = 'mdai:relay:run';
/**
 * The slot keys taken, a sorted set scored by each key's expiry (ms, Redis's clock): the slots a
 * store that came back from a snapshot drops. It is saved in the same snapshot as the slots, so
 * it names the ones that snapshot brought back; members past their expiry are trimmed at every
 * claim. A slot key taken by an instance from before the set was kept is not in it: that one
 * lives out its TTL (at most the slot TTL, which is also the resync window, so one a store that
 * came back brings back is gone by the window's end), and while the window lasts it holds no one
 * off: a claim of its slot waits out the window as for a free slot, a live holder's re-assertion
 * takes it (`untracked`). Found by the scripts that meet it, never by a scan of the keyspace.
 */
const SLOTS_KEY = 'mdai:relay:slots';
/** Slot keys deleted per DEL call when a store that came back drops them. */
const DROP_BATCH = 500;
/**
 * The replies of a Redis that cannot run the slot scripts (`INFO server` without a run_id):
 * the bus logs what is missing once, at connect (`describeUnfit`).
 */
const NO_RUN_ID = 'MDAI_NO_RUN_ID';
/**
 * Lua, first in every script that reads or writes slots (a queued command may reach a restarted
 * Redis before any instance's reconnect check): KEYS epoch, resync, run, slots (in that order,
 * at `base`); a window and a fresh epoch. A run recorded that is not this process's, or none
 * recorded beside an epoch (a snapshot saved before the run was first recorded): the store came
 * back from a snapshot, so the slot keys the set names are dropped (the live holders re-assert
 * theirs within the window), the epoch is set anew and the resync window starts. Neither run
 * nor epoch: a store that came back empty (or a fresh one), which the epoch's own path handles;
 * the run is only recorded. Only the set's members are touched, never a scan of the keyspace
 * (a shared Redis may hold millions of other keys, and a script cannot be killed once it wrote).
 */
const STORE_RUN = `
local function storeRun(base, window, epoch)
  local run = string.match(redis.call('info', 'server'), 'run_id:(%x+)')
  if not run then error({err = '${NO_RUN_ID} INFO server names no run_id'}) end
  local recorded = redis.call('get', KEYS[base + 2])
  if recorded == run then return end
  redis.call('set', KEYS[base + 2], run)
  if not recorded and redis.call('exists', KEYS[base]) == 0 then return end
  local slots = redis.call('zrange', KEYS[base + 3], 0, -1)
  for i = 1, #slots, ${DROP_BATCH} do
    redis.call('del', unpack(slots, i, math.min(i + ${DROP_BATCH - 1}, #slots)))
  end
  redis.call('del', KEYS[base + 3])
  redis.call('set', KEYS[base], epoch)
  redis.call('set', KEYS[base + 1], '1', 'PX', window)
end
-- a slot key the slots set does not name: one an instance of an earlier release took (before the
-- set was kept), which a store that came back brings back without it in the set
local function untracked(slots, key)
  return not redis.call('zscore', slots, key)
end
local function nowMs()
  local t = redis.call('time')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;
/**
 * A claim: KEYS slot, epoch, resync, run, slots; ARGV holder, slot TTL, resync window, a fresh
 * epoch. A store without its epoch came back empty, one of another run from a snapshot: the
 * resync window starts. A held slot answers -1 (held), a free one during the window the
 * window's remaining ms (as one held by a key the slots set does not name: an earlier release's,
 * maybe brought back from a snapshot), else it is taken (0) and named in the slots set.
 */
export const CLAIM_SLOT = `${STORE_RUN}
storeRun(2, ARGV[3], ARGV[4])
if redis.call('exists', KEYS[2]) == 0 then
  redis.call('set', KEYS[2], ARGV[4])
  redis.call('set', KEYS[3], '1', 'PX', ARGV[3])
end
local wait = redis.call('pttl', KEYS[3])
if redis.call('exists', KEYS[1]) == 1 and not (wait > 0 and untracked(KEYS[5], KEYS[1])) then
  return -1
end
if wait > 0 then return wait end
local now = nowMs()
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('zremrangebyscore', KEYS[5], '-inf', now)
redis.call('zadd', KEYS[5], now + tonumber(ARGV[2]), KEYS[1])
return 0`;
/**
 * On every (re)connect: KEYS epoch, resync, run, slots; ARGV the epoch this instance saw before
 * ('' at boot), resync window, a fresh epoch. A store whose epoch is missing or not the one seen
 * before was replaced since: the resync window (re)starts. At boot nothing was seen: a missing
 * epoch is set without a window (a fresh store holds no one's slots). Returns the store's epoch.
 */
const CHECK_EPOCH = `${STORE_RUN}
storeRun(1, ARGV[2], ARGV[3])
local current = redis.call('get', KEYS[1])
if not current then
  redis.call('set', KEYS[1], ARGV[3])
  current = ARGV[3]
end
if ARGV[1] ~= '' and current ~= ARGV[1] then
  redis.call('set', KEYS[2], '1', 'PX', ARGV[2])
end
return current`;
/** KEYS slot, slots; ARGV holder. */
const RELEASE_IF_HOLDER = `if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('zrem', KEYS[2], KEYS[1])
  return redis.call('del', KEYS[1])
end
return 0`;
/**
 * Extends every slot still ours, re-takes a free one (or, during the resync window, one held by
 * a key the slots set does not name); returns the indexes of the lost ones.
 * KEYS epoch, resync, run, slots, then the slot keys; ARGV slot TTL, resync window, a fresh
 * epoch, then the holders.
 */
const REFRESH_SLOTS = `${STORE_RUN}
storeRun(1, ARGV[2], ARGV[3])
local lost = {}
local expiry = nowMs() + tonumber(ARGV[1])
local resyncing = redis.call('pttl', KEYS[2]) > 0
for i = 5, #KEYS do
  local key = KEYS[i]
  local holder = redis.call('get', key)
  if holder == ARGV[i - 1] then
    redis.call('pexpire', key, ARGV[1])
    redis.call('zadd', KEYS[4], expiry, key)
  elseif not holder or (resyncing and untracked(KEYS[4], key)) then
    redis.call('set', key, ARGV[i - 1], 'PX', ARGV[1])
    redis.call('zadd', KEYS[4], expiry, key)
  else
    table.insert(lost, i - 4)
  end
end
return lost`;
/**
 * The scripts as ioredis commands (EVALSHA, EVAL once when Redis does not hold the script yet):
 * a claim sends its keys and arguments, not the script's text, each call.
 */
const COMMANDS = {
  mdaiRelayClaimSlot: { numberOfKeys: 5, lua: CLAIM_SLOT },
  mdaiRelayCheckEpoch: { numberOfKeys: 4, lua: CHECK_EPOCH },
  mdaiRelayReleaseSlot: { numberOfKeys: 2, lua: RELEASE_IF_HOLDER },
  // the key count is the call's first argument (4 + the slots)
  mdaiRelayRefreshSlots: { lua: REFRESH_SLOTS },
} as const;
type SlotCommands = {
  [name in keyof typeof COMMANDS]: (...args: (string | number)[]) => Promise<unknown>;
};
/** A bus call that takes longer than this counts as the bus being unavailable. */
const CALL_TIMEOUT_MS = 2000;

/**
 * Several instances: each subscribes to the channels of the sessions it holds sockets of;
 * slots are Redis keys set with NX and a short TTL refreshed by the holder, released only by
 * their holder. Every call is bounded in time and fails as BusUnavailableError.
 */
export class RedisRelayBus extends RelayBus {
  readonly kind = 'redis' as const;
  private readonly logger = new Logger(RedisRelayBus.name);
  private readonly handlers = new Map<string, EnvelopeHandler>();
  private kioskHandler?: KioskNoticeHandler;
  private kioskSubscribed = false;
  /** The slot store's epoch as this instance last saw it ('' before the first connect). */
  private epoch = '';
  private connectedBefore = false;
  private readonly reconnectListeners: (() => void)[] = [];
  /** The Redis unfit for the slot scripts, as logged (once per reason). */
  private readonly unfitLogged = new Set<string>();
  /** The `maxmemory-policy` values warned of (one line per policy, for the process's life). */
  private readonly evictionLogged = new Set<string>();
  /** The Redis error codes of refused used marks logged (one line per code). */
  private readonly usedMarkLogged = new Set<string>();
  private readonly commands: SlotCommands;

  /**
   * `resyncMs`: how long after the slot store came back (empty, or from a snapshot) a free slot is
   * not handed out (the instances' slot TTL: a live holder re-asserts its slots within it, as it
   * refreshes them).
   */
  constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
    private readonly resyncMs: number,
    /** Told each policy this bus's connects read (`RedisService.notePolicy`: /health shows it). */
    private readonly onEvictionPolicy?: (policy: EvictionPolicy) => void,
  ) {
    super();
    for (const [name, definition] of Object.entries(COMMANDS))
      if (!(name in this.pub)) this.pub.defineCommand(name, definition);
    this.commands = this.pub as unknown as SlotCommands;
    this.pub.on('ready', () => void this.onPubReady());
    if (this.pub.status === 'ready') void this.onPubReady();
    // a subscription that failed (Redis down at boot) is taken when Redis is back; a taken one
    // ioredis itself renews after a reconnect
    this.sub.on('ready', () => void this.takeKioskChannel());
    this.sub.on('message', (channel: string, message: string) => {
      if (channel === KIOSK_CHANNEL) return this.onKioskNotice(message);
      const handler = this.handlers.get(channel.slice(CHANNEL_PREFIX.length));
      if (!handler) return;
      try {
        handler(JSON.parse(message) as BusEnvelope);
      } catch (error) {
        this.logger.warn({ err: error }, 'Dropped a malformed relay envelope');
      }
    });
  }

  publish(sessionId: string, envelope: BusEnvelope): Promise<void> {
    return bounded('publish', async () => {
      await this.pub.publish(CHANNEL_PREFIX + sessionId, JSON.stringify(envelope));
    });
  }

  async subscribe(sessionId: string, handler: EnvelopeHandler): Promise<void> {
    const fresh = !this.handlers.has(sessionId);
    this.handlers.set(sessionId, handler);
    if (!fresh) return;
    try {
      await bounded('subscribe', () => this.sub.subscribe(CHANNEL_PREFIX + sessionId));
    } catch (error) {
      this.handlers.delete(sessionId);
      throw error;
    }
  }

  async unsubscribe(sessionId: string): Promise<void> {
    if (!this.handlers.delete(sessionId)) return;
    await bounded('unsubscribe', () => this.sub.unsubscribe(CHANNEL_PREFIX + sessionId));
  }

  override onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  /**
   * The publisher connection is up: the store's epoch is checked (a store replaced since the last
   * connect starts the resync window on every instance), then, after a reconnect, this
   * instance's slots are re-asserted (the listeners).
   */
  private async onPubReady(): Promise<void> {
    const reconnect = this.connectedBefore;
    this.connectedBefore = true;
    try {
      const epoch = await bounded(
        'checkEpoch',
        async () =>
          (await this.commands.mdaiRelayCheckEpoch(
            EPOCH_KEY,
            RESYNC_KEY,
            RUN_KEY,
            SLOTS_KEY,
            this.epoch,
            String(this.resyncMs),
            randomBytes(8).toString('hex'),
          )) as string,
      );
      if (this.epoch !== '' && epoch !== this.epoch)
        this.logger.warn(
          { resyncMs: this.resyncMs },
          'Relay slot store came back (Redis restarted): free slots are held back while their holders re-assert them',
        );
      this.epoch = epoch;
    } catch (error) {
      const unfit = (await this.probeUnfit()) ?? describeUnfit(error);
      if (!unfit)
        this.logger.warn({ err: error }, 'Relay slot store: its epoch could not be checked');
      else if (!this.unfitLogged.has(unfit)) {
        this.unfitLogged.add(unfit);
        this.logger.error(
          { err: error },
          `Relay slot store: ${unfit}; every relay join fails (bus_unavailable) until it is fixed`,
        );
      }
    }
    if (reconnect) for (const listener of this.reconnectListeners) listener();
    await this.warnOfEviction();
  }

  /**
   * A Redis with a `maxmemory` and any policy but `noeviction` evicts the relay's keys under memory
   * pressure: `volatile-*` the live slots and used marks (keys with a TTL), `allkeys-*` those and
   * the run or epoch key (each time, a resync window holds free slots back). Said once per
   * policy; the policy is read at every connect (a Redis that came back may have another
   * configuration).
   */
  private async warnOfEviction(): Promise<void> {
    const { answered, ...read } = await readEvictionPolicy(this.pub);
    if (answered) this.onEvictionPolicy?.(read);
    const { policy, maxmemory, warning } = read;
    if (!warning || this.evictionLogged.has(policy)) return;
    this.evictionLogged.add(policy);
    this.logger.warn({ maxmemoryPolicy: policy, maxmemory }, warning);
  }

  /**
   * After a failed epoch check: whether this Redis can serve the slot scripts at all, asked
   * directly (INFO server, as the scripts call it); undefined when it can, or cannot answer.
   */
  private async probeUnfit(): Promise<string | undefined> {
    let info: string;
    try {
      info = await bounded('probe', () => this.pub.info('server'));
    } catch (error) {
      return describeUnfit(error);
    }
    return describeServer(info);
  }

  claimSlot(sessionId: string, role: RelayRole, holder: string, ttlMs: number): Promise<SlotClaim> {
    return bounded('claimSlot', async () => {
      const result = (await this.commands.mdaiRelayClaimSlot(
        `${SLOT_PREFIX}${sessionId}:${role}`,
        EPOCH_KEY,
        RESYNC_KEY,
        RUN_KEY,
        SLOTS_KEY,
        holder,
        String(Math.max(1, Math.ceil(ttlMs))),
        String(this.resyncMs),
        randomBytes(8).toString('hex'),
      )) as number;
      if (result === 0) return 'claimed';
      if (result < 0) return 'held';
      return { resyncMs: result };
    });
  }

  refreshSlots(slots: HeldSlot[], ttlMs: number): Promise<HeldSlot[]> {
    if (slots.length === 0) return Promise.resolve([]);
    return bounded('refreshSlots', async () => {
      const lost = (await this.commands.mdaiRelayRefreshSlots(
        4 + slots.length,
        EPOCH_KEY,
        RESYNC_KEY,
        RUN_KEY,
        SLOTS_KEY,
        ...slots.map((s) => `${SLOT_PREFIX}${s.sessionId}:${s.role}`),
        String(Math.max(1, Math.ceil(ttlMs))),
        String(this.resyncMs),
        randomBytes(8).toString('hex'),
        ...slots.map((s) => s.holder),
      )) as number[];
      const gone = lost.map((index) => slots[index - 1]);
      const spent = slots.filter((s) => s.usedTtlMs !== undefined && !gone.includes(s));
      if (spent.length > 0) {
        const batch = this.pub.pipeline();
        for (const s of spent)
          batch.set(
            `${USED_PREFIX}${s.sessionId}:${s.role}`,
            '1',
            'PX',
            Math.max(1, Math.ceil(s.usedTtlMs ?? 1)),
            'NX',
          );
        // a pipeline answers each command's failure in its results, never as a rejection
        for (const [error] of (await batch.exec()) ?? []) if (error) this.usedMarkFailed(error);
      }
      return gone;
    });
  }

  /**
   * A legacy app's used mark Redis refused at a refresh (OOM under noeviction, NOPERM for an ACL
   * user without `mdai:relay:used:*`): its session's one use is not spent again while it lasts.
   * Logged once per error code, by its code alone: a Redis message may quote the command's
   * arguments, whose key names a session.
   */
  private usedMarkFailed(error: Error): void {
    const code = /^[A-Z]+/.exec(error.message)?.[0] ?? 'ERR';
    if (this.usedMarkLogged.has(code)) return;
    this.usedMarkLogged.add(code);
    this.logger.warn(
      { redisError: code },
      `Relay slot store: Redis refused a legacy app's used mark at a slot refresh (${code}): its session's one use is not kept spent; said once per error code`,
    );
  }

  releaseSlot(sessionId: string, role: RelayRole, holder: string): Promise<void> {
    return bounded('releaseSlot', async () => {
      await this.commands.mdaiRelayReleaseSlot(
        `${SLOT_PREFIX}${sessionId}:${role}`,
        SLOTS_KEY,
        holder,
      );
    });
  }

  isSlotTaken(sessionId: string, role: RelayRole): Promise<boolean> {
    return bounded(
      'isSlotTaken',
      async () => (await this.pub.exists(`${SLOT_PREFIX}${sessionId}:${role}`)) === 1,
    );
  }

  publishKioskNotice(notice: KioskNotice): Promise<void> {
    return bounded('publishKioskNotice', async () => {
      await this.pub.publish(KIOSK_CHANNEL, JSON.stringify(notice));
    });
  }

  async subscribeKioskNotices(handler: KioskNoticeHandler): Promise<void> {
    this.kioskHandler = handler;
    await this.takeKioskChannel();
  }

  private async takeKioskChannel(): Promise<void> {
    if (!this.kioskHandler || this.kioskSubscribed) return;
    try {
      await bounded('subscribe', () => this.sub.subscribe(KIOSK_CHANNEL));
      this.kioskSubscribed = true;
    } catch (error) {
      this.logger.warn(
        { err: error },
        'Kiosk notices: subscription failed (retried when Redis is back)',
      );
    }
  }

  /**
   * Anyone who can publish on Redis can write here: a notice that is not exactly a device id and
   * a known change is dropped, and the hub reads the kiosk's standing from the store before it
   * acts on one (RelayHub.onKioskNotice), so a forged notice closes nothing.
   */
  private onKioskNotice(message: string): void {
    let notice: unknown;
    try {
      notice = JSON.parse(message);
    } catch {
      notice = undefined;
    }
    if (!isKioskNotice(notice)) {
      this.logger.warn('Dropped a malformed kiosk notice');
      return;
    }
    this.kioskHandler?.({ deviceId: notice.deviceId, change: notice.change });
  }

  firstUse(sessionId: string, role: RelayRole, ttlMs: number): Promise<boolean> {
    return bounded('firstUse', async () => {
      const result = await this.pub.set(
        `${USED_PREFIX}${sessionId}:${role}`,
        '1',
        'PX',
        Math.max(1, Math.ceil(ttlMs)),
        'NX',
      );
      return result === 'OK';
    });
  }

  forgetUse(sessionId: string, role: RelayRole): Promise<void> {
    return bounded('forgetUse', async () => {
      await this.pub.del(`${USED_PREFIX}${sessionId}:${role}`);
    });
  }

  wasUsed(sessionId: string, role: RelayRole): Promise<boolean> {
    return bounded(
      'wasUsed',
      async () => (await this.pub.exists(`${USED_PREFIX}${sessionId}:${role}`)) === 1,
    );
  }
}

/** Runs a Redis call with a time bound; any failure becomes BusUnavailableError. */
export async function bounded<T>(operation: string, call: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer in ${CALL_TIMEOUT_MS} ms`)),
      CALL_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([call(), timeout]);
  } catch (error) {
    throw new BusUnavailableError(operation, error);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What a Redis that refused the slot scripts lacks, or undefined for any other failure (Redis
 * down, a timeout): a user without INFO (ACL category @dangerous), a server whose INFO names no
 * run_id (Redis before 5, or a look-alike such as Dragonfly), one that runs no scripts.
 */
export function describeUnfit(error: unknown): string | undefined {
  const cause = error instanceof BusUnavailableError ? error.cause : error;
  const message = cause instanceof Error ? cause.message : String(cause);
  if (/can't run this command/.test(message))
    return 'the Redis user may not run a command the slot scripts call (INFO, TIME, GET, SET, DEL, EXISTS, PTTL, PEXPIRE, ZADD, ZRANGE, ZREM, ZREMRANGEBYSCORE): grant them';
  if (/^NOPERM/.test(message)) {
    const command = /'([a-z|]+)' command/i.exec(message)?.[1];
    return command === 'info' || command === undefined
      ? "the Redis user may not run INFO (ACL category @dangerous), which the slot scripts call for the server's run_id: grant it (ACL SETUSER <user> +info)"
      : `the Redis user may not run ${command.toUpperCase()}, which the slot scripts need: grant it (ACL SETUSER <user> +${command})`;
  }
  if (message.includes(NO_RUN_ID))
    return 'this Redis names no run_id in INFO server: the relay needs Redis 5 or later (not a look-alike such as Dragonfly)';
  if (/unknown command|non.?deterministic|Write commands not allowed/i.test(message))
    return 'this Redis cannot run the slot scripts (Lua with INFO, TIME and writes): the relay needs Redis 5 or later';
  return undefined;
}

/** What the slot scripts miss in a Redis's `INFO server`, or undefined. */
export function describeServer(info: string): string | undefined {
  const major = Number(/^redis_version:(\d+)\./m.exec(info)?.[1] ?? NaN);
  if (!/^run_id:[0-9a-f]+/m.test(info) || !(major >= 5))
    return 'this Redis names no run_id in INFO server, or is older than 5: the relay needs Redis 5 or later (not a look-alike such as Dragonfly)';
  return undefined;
}

function isKioskNotice(value: unknown): value is KioskNotice {
  if (typeof value !== 'object' || value === null) return false;
  const { deviceId, change } = value as Record<string, unknown>;
  return (
    typeof deviceId === 'string' &&
    deviceId.length > 0 &&
    deviceId.length <= 256 &&
    (change === 'blocked' || change === 'key_rotated')
  );
}
