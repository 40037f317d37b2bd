import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
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
 * Lua, first in every script that reads or writes slots (a queued command may reach a restarted
 * Redis before any instance's reconnect check): KEYS epoch, resync, run (in that order, at
 * `base`); a window and a fresh epoch. A run recorded that is not this process's: the store came
 * back from a snapshot, so its slot keys are dropped (the live holders re-assert theirs within
 * the window), the epoch is set anew and the resync window starts. None recorded (a store from
 * before the run was kept, or one that came back empty, which the epoch tells): only recorded.
 */
const STORE_RUN = `
local function storeRun(base, window, epoch)
  local run = string.match(redis.call('info', 'server'), 'run_id:(%x+)')
  local recorded = redis.call('get', KEYS[base + 2])
  if recorded == run then return end
  redis.call('set', KEYS[base + 2], run)
  if not recorded then return end
  local cursor = '0'
  repeat
    local page = redis.call('scan', cursor, 'match', '${SLOT_PREFIX}*', 'count', 1000)
    cursor = page[1]
    for _, key in ipairs(page[2]) do redis.call('del', key) end
  until cursor == '0'
  redis.call('set', KEYS[base], epoch)
  redis.call('set', KEYS[base + 1], '1', 'PX', window)
end
`;
/**
 * A claim: KEYS slot, epoch, resync, run; ARGV holder, slot TTL, resync window, a fresh epoch. A
 * store without its epoch came back empty, one of another run from a snapshot: the resync window
 * starts. A held slot answers -1 (held), a free one during the window the window's remaining
 * ms, else it is taken (0).
 */
const CLAIM_SLOT = `${STORE_RUN}
storeRun(2, ARGV[3], ARGV[4])
if redis.call('exists', KEYS[2]) == 0 then
  redis.call('set', KEYS[2], ARGV[4])
  redis.call('set', KEYS[3], '1', 'PX', ARGV[3])
end
if redis.call('exists', KEYS[1]) == 1 then return -1 end
local wait = redis.call('pttl', KEYS[3])
if wait > 0 then return wait end
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 0`;
/**
 * On every (re)connect: KEYS epoch, resync, run; ARGV the epoch this instance saw before ('' at
 * boot), resync window, a fresh epoch. A store whose epoch is missing or not the one seen before
 * was replaced since: the resync window (re)starts. At boot nothing was seen: a missing epoch is
 * set without a window (a fresh store holds no one's slots). Returns the store's epoch.
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
const RELEASE_IF_HOLDER = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;
/**
 * Extends every slot still ours, re-takes a free one; returns the indexes of the lost ones.
 * KEYS epoch, resync, run, then the slots; ARGV slot TTL, resync window, a fresh epoch, then
 * the holders.
 */
const REFRESH_SLOTS = `${STORE_RUN}
storeRun(1, ARGV[2], ARGV[3])
local lost = {}
for i = 4, #KEYS do
  local key = KEYS[i]
  local holder = redis.call('get', key)
  if holder == ARGV[i] then
    redis.call('pexpire', key, ARGV[1])
  elseif not holder then
    redis.call('set', key, ARGV[i], 'PX', ARGV[1])
  else
    table.insert(lost, i - 3)
  end
end
return lost`;
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

  /**
   * `resyncMs`: how long after the slot store came back (empty, or from a snapshot) a free slot is
   * not handed out (the instances' slot TTL: a live holder re-asserts its slots within it, as it
   * refreshes them).
   */
  constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
    private readonly resyncMs: number,
  ) {
    super();
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
          (await this.pub.eval(
            CHECK_EPOCH,
            3,
            EPOCH_KEY,
            RESYNC_KEY,
            RUN_KEY,
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
      this.logger.warn({ err: error }, 'Relay slot store: its epoch could not be checked');
    }
    if (reconnect) for (const listener of this.reconnectListeners) listener();
  }

  claimSlot(sessionId: string, role: RelayRole, holder: string, ttlMs: number): Promise<SlotClaim> {
    return bounded('claimSlot', async () => {
      const result = (await this.pub.eval(
        CLAIM_SLOT,
        4,
        `${SLOT_PREFIX}${sessionId}:${role}`,
        EPOCH_KEY,
        RESYNC_KEY,
        RUN_KEY,
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
      const lost = (await this.pub.eval(
        REFRESH_SLOTS,
        3 + slots.length,
        EPOCH_KEY,
        RESYNC_KEY,
        RUN_KEY,
        ...slots.map((s) => `${SLOT_PREFIX}${s.sessionId}:${s.role}`),
        String(Math.max(1, Math.ceil(ttlMs))),
        String(this.resyncMs),
        randomBytes(8).toString('hex'),
        ...slots.map((s) => s.holder),
      )) as number[];
      return lost.map((index) => slots[index - 1]);
    });
  }

  releaseSlot(sessionId: string, role: RelayRole, holder: string): Promise<void> {
    return bounded('releaseSlot', async () => {
      await this.pub.eval(RELEASE_IF_HOLDER, 1, `${SLOT_PREFIX}${sessionId}:${role}`, holder);
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
