import {
  defineConfig,
  Env,
  validateEnv,
  IsIn,
  IsInt,
  IsNumber,
  IsOmittable,
  Max,
  Min,
} from '@app/common';

class FraudEnv {
  @IsOmittable() @IsNumber() @Min(1) @Max(2000) FRAUD_MAX_SPEED_KMH?: number;
  @IsOmittable() @IsNumber() @Min(0) @Max(10_000) FRAUD_GEOFENCE_SLACK_M?: number;
  @IsOmittable() @IsInt() @Min(1) @Max(86_400) FRAUD_RAPID_REPEAT_SECONDS?: number;
  @IsOmittable() @IsInt() @Min(1) @Max(1000) FRAUD_SHARED_DEVICE_MAX_WORKERS?: number;
  @IsOmittable() @IsInt() @Min(1) @Max(24 * 30) FRAUD_SHARED_DEVICE_WINDOW_HOURS?: number;
  @IsOmittable() @IsInt() @Min(0) @Max(1_000_000) FRAUD_UNATTRIBUTED_PER_MINUTE?: number;
  @IsOmittable() @IsInt() @Min(1) @Max(1_000_000) FRAUD_DEVICE_PER_MINUTE?: number;
  @IsOmittable() @IsIn(['0', '1']) FRAUD_LEGACY_TAGGING?: string;
}

/** Thresholds of the pattern rules run over accepted attendance packets. */
export interface FraudSettings {
  /** Faster than this between a worker's consecutive packets is impossible travel. */
  maxSpeedKmh: number;
  /** Extra metres allowed beyond a site's radiusM (after subtracting the GPS accuracy). */
  geofenceSlackM: number;
  /** The same worker and type again within this many seconds is a rapid repeat. */
  rapidRepeatSeconds: number;
  /** More distinct workers than this on one device within the window is a shared device. */
  sharedDeviceMaxWorkers: number;
  sharedDeviceWindowSeconds: number;
  /**
   * Fraud events naming no device (refused tokens, token refreshes and thekedar signatures:
   * requests anyone can send) stored per type per minute by one instance; the rest are counted
   * (`mdai_fraud_events_unstored_total`) and logged once a minute, not stored.
   */
  unattributedPerMinute: number;
  /**
   * Fraud events naming one device stored per type per minute by one instance; the rest are
   * counted (`mdai_fraud_events_unstored_total`) and logged once a minute per device and type,
   * not stored. Sized so an honest phone never reaches it (a few events a day); one over it of
   * distinct signed packets of a PACKET_FLOOD_TYPES type adds a `packet_flood` event, which
   * weighs on the trust score. At least 1 (0 made one refused packet a flood). Optional where a
   * spec builds its own settings: 50.
   */
  devicePerMinute?: number;
  /**
   * FRAUD_LEGACY_TAGGING: whether a start may tag untagged fraud rows as `legacy` on a store
   * with no `fraud_seal` marker and no tagged row (a store from before the tags, or one where a
   * database writer deleted every tagged row and the marker: the store cannot tell them apart,
   * review M3). Read from the environment only, where a database writer cannot set it. Default:
   * on outside production, off in production (set it to 1 for the start that upgrades a store
   * from before the tags, then remove it). A store with no fraud rows gets its marker either way.
   */
  legacyTagging: boolean;
  /**
   * FRAUD_LEGACY_TAGGING=1 set explicitly (not the default outside production): the operator's
   * word that this start upgrades a store from before the tags. The worker devices' legacy
   * tagging then runs even where tagged devices exist (WorkerDeviceSeal).
   */
  legacyTaggingExplicit?: boolean;
}

/** FRAUD_DEVICE_PER_MINUTE's default. */
export const DEVICE_PER_MINUTE = 50;

function readFraudConfig(env: Env): FraudSettings {
  const v = validateEnv(FraudEnv, env);
  return {
    maxSpeedKmh: v.FRAUD_MAX_SPEED_KMH ?? 120,
    geofenceSlackM: v.FRAUD_GEOFENCE_SLACK_M ?? 0,
    rapidRepeatSeconds: v.FRAUD_RAPID_REPEAT_SECONDS ?? 60,
    sharedDeviceMaxWorkers: v.FRAUD_SHARED_DEVICE_MAX_WORKERS ?? 3,
    sharedDeviceWindowSeconds: (v.FRAUD_SHARED_DEVICE_WINDOW_HOURS ?? 24) * 3600,
    unattributedPerMinute: v.FRAUD_UNATTRIBUTED_PER_MINUTE ?? 60,
    devicePerMinute: v.FRAUD_DEVICE_PER_MINUTE ?? DEVICE_PER_MINUTE,
    legacyTagging: (v.FRAUD_LEGACY_TAGGING ?? (env.NODE_ENV === 'production' ? '0' : '1')) === '1',
    legacyTaggingExplicit: v.FRAUD_LEGACY_TAGGING === '1',
  };
}

export const fraudConfig = defineConfig('fraud', readFraudConfig);

/**
 * What the boot says of FRAUD_LEGACY_TAGGING=1 in production (undefined otherwise): it is the
 * operator's word for the one start that upgrades a store from before the tags; left set, a
 * later start takes a store whose tagged fraud rows and markers a database writer deleted for
 * one from before the tags, and tags what that writer left or inserted as legacy.
 */
export function fraudLegacyTaggingWarning(
  settings: Pick<FraudSettings, 'legacyTaggingExplicit'>,
  app: { production: boolean },
): string | undefined {
  if (!app.production || !settings.legacyTaggingExplicit) return undefined;
  return 'FRAUD_LEGACY_TAGGING=1 is set: it is meant for the one start that upgrades a store from a version without the fraud, worker-device and kiosk tags. Once every replica of that start is up, unset it (remove it from the environment or .env) and restart: left set, a start tags as legacy untagged fraud rows, worker devices and kiosks that someone with write access to the database inserted, or left after deleting the tagged ones, and re-tags as legacy a worker device state of the form v1 put back there with its v1-retired marker cleared (README, Configuration)';
}
