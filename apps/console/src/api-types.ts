// Generated from docs/openapi.json by scripts/write-console-types.ts (`npm run openapi`).
// Do not edit: change the DTOs, then regenerate. Not formatted by Prettier (.prettierignore).

export interface AttendancePayloadDoc {
  /** A lowercase UUID the phone makes up, unique per device (re-sending it is safe) */
  packetId: string;
  /** The worker's id (the offline token's worker) */
  workerId: string;
  /** The site's id, one the offline token allows */
  siteId: string;
  /** This phone's deviceId (the offline token's device) */
  deviceId: string;
  type: 'check_in' | 'check_out';
  /** ISO-8601 UTC ending in Z, 0 to 3 fraction digits (+00:00 is refused), a real instant; kept exactly as signed */
  timestamp: string;
  geo: PacketGeoDoc;
}

export const AttendancePayloadDocTypeValues = ['check_in', 'check_out'] as const;

export interface ChallengeQrPayload {
  /** the challenge id: 24 hex characters (an ObjectId in shape), all 96 bits random, so it cannot be guessed from other ids */
  bson_id: string;
  /** base64 RSA-OAEP (SHA-256, MGF1-SHA-256) of 32 random bytes under the kiosk key */
  challenge: string;
}

export interface ChallengeStateView {
  bson_id: string;
  device_id: string;
  wifi_ssid: string;
  /** waiting: not yet answered and before expires_at; used: the kiosk received the credentials; locked: too many wrong answers; expired: unanswered past expires_at */
  state: 'waiting' | 'used' | 'locked' | 'expired';
  wrong_attempts: number;
  /** Wrong answers that lock the challenge */
  max_attempts: number;
  created_at: string;
  expires_at: string;
  used_at?: string;
}

export const ChallengeStateViewStateValues = ['waiting', 'used', 'locked', 'expired'] as const;

export interface CheckpointView {
  origin: string;
  treeSize: number;
  /** hex */
  rootHash: string;
  /** When it was signed (ISO-8601): the note's `timestamp <Unix ms>` line, when it has one (checkpoints signed before that line existed have none) */
  signedAt: string;
  /** The C2SP tlog-checkpoint signed note, byte for byte */
  note: string;
}

export interface ClosePayrollDto {
  /** First local day (YYYY-MM-DD, 1970-01-01 to 9998-12-31), inclusive */
  from: string;
  /** Last local day (YYYY-MM-DD, 1970-01-01 to 9998-12-31), inclusive, before today at the site (422 period_not_over); before `from` → 400 invalid_period */
  to: string;
}

export interface ClosedWorkerView {
  daysPresent: number;
  hours: number;
  workedSeconds: number;
  flaggedDays: number;
  workerId: string;
}

export interface ConnectedKiosksView {
  /** One per distinct deviceId asked, in order */
  kiosks: KioskConnectionView[];
}

export interface ConsistencyProofView {
  origin: string;
  first: number;
  second: number;
  /** base64 hashes, RFC 9162 §2.1.4 order */
  proof: string[];
}

export interface CorrectionResponse {
  correctionId: string;
  status: 'appended' | 'duplicate';
  siteId: string;
  seq: number;
  recordHash: string;
}

export const CorrectionResponseStatusValues = ['appended', 'duplicate'] as const;

export interface CreateCorrectionDto {
  /** Client-chosen lowercase UUID, as packet ids are: the same correction sent again is answered as a duplicate. An uppercase one is refused (400), not taken as another id. */
  correctionId?: string;
  /** What the correction does (see the operation): void, add_check_out, add_check_in, move, add_shift, or acknowledge_over_max_hours (its target: the seq of a day's over_max_hours flag, the shift that takes the day past TIMESHEET_MAX_SHIFT_HOURS; no `at`) */
  action: 'void' | 'add_check_out' | 'add_check_in' | 'move' | 'add_shift' | 'acknowledge_over_max_hours';
  /** The ledger entry corrected (this site only): required by every action but add_shift, which corrects no entry and takes none */
  target?: LedgerRefDto;
  /** add_shift only (required there): the worker whose shift is recorded, one of this site's */
  workerId?: string;
  /** ISO-8601 UTC: the check-out time (add_check_out), the check-in time (add_check_in), the new time (move) or the check-in of the shift (add_shift). Never later than the server clock plus SYNC_MAX_CLOCK_SKEW_SECONDS; a move stays within TIMESHEET_MAX_SHIFT_HOURS of the time the entry was recorded at; an add_shift starts at most TIMESHEET_BACKFILL_DAYS before the server clock (422 shift_too_old). */
  at?: string;
  /** add_shift only (required there): the check-out of the shift, ISO-8601 UTC as `at`; after `at`, at most TIMESHEET_MAX_SHIFT_HOURS after it (422 shift_out_of_range names the limit; a site where longer shifts are real raises TIMESHEET_MAX_SHIFT_HOURS, up to 36), never later than the server clock plus SYNC_MAX_CLOCK_SKEW_SECONDS */
  until?: string;
  /** Kept as sent (a thekedar's signature covers it): 3 to 500 characters with at least 3 visible characters (white space and invisible marks such as U+200B do not count); no control characters other than line breaks and tabs, no text-direction controls (U+202A–U+202E, U+2066–U+2069): else 400 validation_failed naming the field */
  reason: string;
}

export const CreateCorrectionDtoActionValues = ['void', 'add_check_out', 'add_check_in', 'move', 'add_shift', 'acknowledge_over_max_hours'] as const;

export interface CreateSiteDto {
  name: string;
  geo: GeoPointDto;
  /** Geofence radius in metres */
  radiusM: number;
  /** IANA time zone of the site's region: timesheet days are local days there (default SITE_DEFAULT_TIME_ZONE). Stored in its canonical spelling, the current IANA name (`utc` → `UTC`, `US/Eastern` → `America/New_York`, `Asia/Calcutta` → `Asia/Kolkata`, `Europe/Kiev` → `Europe/Kyiv`, as the answer shows). Fixed-offset and legacy ids (`EST`, `MST`, `HST`, `EST5EDT`…, `CET`…, `Etc/GMT+5`) are refused (400 legacy_time_zone). It cannot be changed after creation. */
  timeZone?: string;
}

export interface CreateSiteResponse {
  siteId: string;
  timeZone: string;
}

export interface CreateThekedarDto {
  name: string;
  /** Stored in E.164. A number without a country code is one of PHONE_DEFAULT_COUNTRY (IN): `098100 00001`, `98100 00001`, `0091 98100 00001` and `+91 98100 00001` are one number. Not a possible number for its country: 400 invalid_phone. */
  phone: string;
  /** The sites the thekedar works on: its signed requests create workers and read timesheets at these only (any other site, an unknown one the same: 403 site_not_allowed). Each must exist (404 site_not_found). Its workers' own sites are theirs, set at their creation. Absent: none yet (an admin names them with PATCH /api/v5/thekedars/:thekedarId). */
  siteIds?: string[];
}

export interface CreateThekedarResponse {
  thekedarId: string;
  /** Single use; shown only in this response */
  enrollmentCode: string;
  /** Until when the code can be spent (ENROLLMENT_CODE_TTL_HOURS from now) */
  expiresAt: string;
}

export interface CreateWorkerDto {
  name: string;
  /** Stored in E.164. A number without a country code is one of PHONE_DEFAULT_COUNTRY (IN): `098100 00001`, `98100 00001`, `0091 98100 00001` and `+91 98100 00001` are one number. Not a possible number for its country: 400 invalid_phone. */
  phone: string;
  /** Sites the worker may check in at */
  siteIds: string[];
}

export interface CreateWorkerResponse {
  workerId: string;
  /** Single use; shown only in this response */
  enrollmentCode: string;
  /** Until when the code can be spent (ENROLLMENT_CODE_TTL_HOURS from now) */
  expiresAt: string;
  trustScore: number;
  trustInheritedUntil?: string;
}

export interface DayFlagView {
  /** One flag per entry behind it, but `corrected` once a day, named by the newest correction of the day's punches (every correction is in the day's seqs). Flags that need a look (they make the day `flagged`): `open_shift`, `check_out_without_check_in`, `low_trust` (a punch that counts, synced from a low-trust device), `overlapping_shift` (an added shift a later punch overlaps: void one), `overlaps_other_site` (a shift, or a lone punch, overlapping in time a shift of the same worker at another site, named in `detail`: both sites count the hours until a supervisor corrects one), `over_max_hours` (the day adds up to more than TIMESHEET_MAX_SHIFT_HOURS, named by the shift that takes it past: an `acknowledge_over_max_hours` correction of that seq says the hours are right), `fraud` (a fraud event of one of the day's punches, its type in `detail`, not dismissed in review: unreviewed or confirmed), `fraud_tampered` (a fraud event naming one of the day's punches was changed or inserted outside the server, its tag does not verify: its type is not shown, and a dismissal written into the store does not clear the day). Informational flags (what a supervisor already did; they do not flag a day): `corrected`, `voided_punch` (a punch voided), `voided_correction` (an added check-out, check-in or shift, or another correction, voided; days stored before it existed name such a seq `voided_punch` until they are recomputed), `over_max_hours_acknowledged` (in place of `over_max_hours`, named by the acknowledgement: it holds until an entry of the day newer than it, a punch or a correction, asks for a look again), `fraud_dismissed` (in place of `fraud` for an event an admin dismissed in the fraud review, POST /api/v5/fraud/events/{eventId}/review; a later review that confirms it makes it `fraud` again). */
  type: 'open_shift' | 'check_out_without_check_in' | 'low_trust' | 'corrected' | 'voided_punch' | 'voided_correction' | 'overlapping_shift' | 'overlaps_other_site' | 'over_max_hours' | 'over_max_hours_acknowledged' | 'fraud' | 'fraud_dismissed' | 'fraud_tampered';
  /** Ledger seq (of this site) behind the flag */
  seq: number;
  /** For fraud and fraud_dismissed: the fraud event type; for overlaps_other_site: the siteId of the other site, shown to a key and to a thekedar that works at that site too; a thekedar that does not gets the flag without `detail` (a shift at another site, not which one), once per seq */
  detail?: string;
}

export const DayFlagViewTypeValues = ['open_shift', 'check_out_without_check_in', 'low_trust', 'corrected', 'voided_punch', 'voided_correction', 'overlapping_shift', 'overlaps_other_site', 'over_max_hours', 'over_max_hours_acknowledged', 'fraud', 'fraud_dismissed', 'fraud_tampered'] as const;

export interface DeletedFileView {
  fileId: string;
  /** When the data key was destroyed */
  deletedAt: string;
}

export interface DeviceFingerprintDto {
  os: string;
  model: string;
  /** Hash of the SIM identity, computed on the phone */
  simHash: string;
}

export interface DeviceTrustView {
  deviceId: string;
  /** Sum of the effects, rounded, clamped */
  score: number;
  factors: TrustFactorView[];
  computedAt: string;
}

export interface DeviceUserView {
  kind: 'worker' | 'thekedar';
  id: string;
}

export const DeviceUserViewKindValues = ['worker', 'thekedar'] as const;

export interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
  correlationId: string;
  errors?: FieldErrorDto[];
}

export interface FieldErrorDto {
  field: string;
  message: string;
}

export interface FingerprintView {
  os: string;
  model: string;
  simHash: string;
}

export interface FraudEventDetailView {
  id: string;
  type: 'invalid_token' | 'unknown_device' | 'device_blocked' | 'invalid_signature' | 'malformed_packet' | 'device_mismatch' | 'worker_mismatch' | 'site_not_allowed' | 'timestamp_in_future' | 'timestamp_too_old' | 'outside_token_window' | 'packet_id_conflict' | 'impossible_travel' | 'outside_geofence' | 'rapid_repeat' | 'shared_device' | 'onboarding_signature_invalid' | 'onboarding_replay' | 'onboarding_stale_timestamp' | 'packet_flood';
  deviceId?: string;
  workerId?: string;
  siteId?: string;
  packetId?: string;
  detail: string;
  /** When it was detected (ISO 8601); null when the stored value is not a date (a hand-edited or damaged row) */
  at: string;
  /** The punch a refusal of an authentic packet names (well formed, its device signature verified, the token worker): site_not_allowed, timestamp_in_future, timestamp_too_old and outside_token_window only, recorded since the punch was kept; covered by the event tag. A payroll counts these by their claimed time (refusedPunches) */
  punch?: RefusedPunchView;
  /** The latest review; absent while unreviewed */
  review?: FraudReviewView;
  /** verified: the server's tag over the event and its current review verifies; legacy: stored before tags existed (tagged as legacy at the upgrade, unchanged since; what it held before nobody can vouch for); tampered: changed outside the server (its type, time, ids, detail or review do not match its tag; in the event's own view also a review history with a review missing, moved or changed). A tampered event is listed, so the rest of the page stays usable, but is not to be trusted, and cannot be reviewed (503 fraud_event_tampered) */
  integrity: 'verified' | 'legacy' | 'tampered';
  /** Every review, oldest first */
  reviews: FraudReviewView[];
}

export const FraudEventDetailViewTypeValues = ['invalid_token', 'unknown_device', 'device_blocked', 'invalid_signature', 'malformed_packet', 'device_mismatch', 'worker_mismatch', 'site_not_allowed', 'timestamp_in_future', 'timestamp_too_old', 'outside_token_window', 'packet_id_conflict', 'impossible_travel', 'outside_geofence', 'rapid_repeat', 'shared_device', 'onboarding_signature_invalid', 'onboarding_replay', 'onboarding_stale_timestamp', 'packet_flood'] as const;

export const FraudEventDetailViewIntegrityValues = ['verified', 'legacy', 'tampered'] as const;

export interface FraudEventView {
  id: string;
  type: 'invalid_token' | 'unknown_device' | 'device_blocked' | 'invalid_signature' | 'malformed_packet' | 'device_mismatch' | 'worker_mismatch' | 'site_not_allowed' | 'timestamp_in_future' | 'timestamp_too_old' | 'outside_token_window' | 'packet_id_conflict' | 'impossible_travel' | 'outside_geofence' | 'rapid_repeat' | 'shared_device' | 'onboarding_signature_invalid' | 'onboarding_replay' | 'onboarding_stale_timestamp' | 'packet_flood';
  deviceId?: string;
  workerId?: string;
  siteId?: string;
  packetId?: string;
  detail: string;
  /** When it was detected (ISO 8601); null when the stored value is not a date (a hand-edited or damaged row) */
  at: string;
  /** The punch a refusal of an authentic packet names (well formed, its device signature verified, the token worker): site_not_allowed, timestamp_in_future, timestamp_too_old and outside_token_window only, recorded since the punch was kept; covered by the event tag. A payroll counts these by their claimed time (refusedPunches) */
  punch?: RefusedPunchView;
  /** The latest review; absent while unreviewed */
  review?: FraudReviewView;
  /** verified: the server's tag over the event and its current review verifies; legacy: stored before tags existed (tagged as legacy at the upgrade, unchanged since; what it held before nobody can vouch for); tampered: changed outside the server (its type, time, ids, detail or review do not match its tag; in the event's own view also a review history with a review missing, moved or changed). A tampered event is listed, so the rest of the page stays usable, but is not to be trusted, and cannot be reviewed (503 fraud_event_tampered) */
  integrity: 'verified' | 'legacy' | 'tampered';
}

export const FraudEventViewTypeValues = ['invalid_token', 'unknown_device', 'device_blocked', 'invalid_signature', 'malformed_packet', 'device_mismatch', 'worker_mismatch', 'site_not_allowed', 'timestamp_in_future', 'timestamp_too_old', 'outside_token_window', 'packet_id_conflict', 'impossible_travel', 'outside_geofence', 'rapid_repeat', 'shared_device', 'onboarding_signature_invalid', 'onboarding_replay', 'onboarding_stale_timestamp', 'packet_flood'] as const;

export const FraudEventViewIntegrityValues = ['verified', 'legacy', 'tampered'] as const;

export interface FraudReviewView {
  decision: 'dismissed' | 'confirmed';
  reason: string;
  /** <role>:<API key id> */
  by: string;
  /** null when the stored time is not a date (a hand-edited or damaged row: the review and its event then read tampered) */
  at: string;
  /** In an event's review history: verified (the server's tag verifies, in its place in the history), legacy (stored before tags existed, unchanged since the upgrade), tampered (changed, moved or written outside the server: not to be trusted). On an event's current review: the event's integrity (its tag covers the review) */
  integrity?: 'verified' | 'legacy' | 'tampered';
}

export const FraudReviewViewDecisionValues = ['dismissed', 'confirmed'] as const;

export const FraudReviewViewIntegrityValues = ['verified', 'legacy', 'tampered'] as const;

export interface GenerateChallengeDto {
  device_id: string;
  /** 1 character to 32 bytes in UTF-8 (an 802.11 SSID is at most 32 octets) */
  wifi_ssid: string;
  /** What WPA2 takes: empty for an open network, a passphrase of 8-63 printable ASCII characters (space to ~), or a pre-shared key of exactly 64 hex digits. Anything else: 400 invalid_wifi_password */
  wifi_password: string;
}

export interface GenerateChallengeResponse {
  success: boolean;
  qr_payload: ChallengeQrPayload;
  expires_at: string;
  /** the QR as PNG (or SVG with format=svg), admin key; absolute, on PUBLIC_URL */
  qr_url: string;
}

export interface GeoPointDto {
  /** Degrees, a JSON number (not a string) */
  lat: number;
  /** Degrees, a JSON number (not a string) */
  lng: number;
}

export interface InclusionProofView {
  origin: string;
  seq: number;
  leafIndex: number;
  /** the link's recordHash (hex); leaf input = its 32 bytes */
  recordHash: string;
  /** hex SHA-256(0x00 ‖ recordHash bytes) */
  leafHash: string;
  treeSize: number;
  /** base64 hashes, RFC 9162 §2.1.3 order */
  inclusionProof: string[];
  /** The signed checkpoint of treeSize, when one was signed */
  checkpoint?: string;
}

export interface KioskConnectionView {
  deviceId: string;
  /** An authenticated kiosk socket is in a pairing session on some instance right now (within one slot TTL) */
  connected: boolean;
}

export interface KioskEventView {
  action: 'registered' | 'key_rotated' | 'blocked' | 'unblocked';
  actor: string;
  reason?: string;
  key_fingerprint?: string;
  previous_key_fingerprint?: string;
  at: string;
}

export const KioskEventViewActionValues = ['registered', 'key_rotated', 'blocked', 'unblocked'] as const;

export interface KioskStatusChangeDto {
  /** Trimmed of surrounding white space, then 3 to 500 characters with at least 3 visible characters (white space and invisible marks such as U+200B do not count); no control characters other than line breaks and tabs, no text-direction controls (U+202A–U+202E, U+2066–U+2069): else 400 validation_failed naming the field */
  reason: string;
}

export interface KioskView {
  device_id: string;
  /** SHA-256 of the SPKI DER */
  key_fingerprint: string;
  /** Blocked: by an admin, or because the stored key and status do not verify (`integrity: tampered`): its Wi-Fi challenges, relay auth and pairings are refused as a blocked kiosk's */
  status: 'active' | 'blocked';
  created_at: string;
  updated_at: string;
  /** Whether the server vouches for the stored public key and status (their store-MAC tag): `verified`; `legacy` (stored before the tags, tagged once at the upgrade: it holds as stored until the next rotation, block or unblock); `tampered` (changed outside the server, e.g. public_key_pem or status edited in the database: the kiosk is treated as blocked; an admin's key rotation with the kiosk's genuine key repairs it, blocked, and an unblock then makes it active) */
  integrity: 'verified' | 'legacy' | 'tampered';
}

export const KioskViewStatusValues = ['active', 'blocked'] as const;

export const KioskViewIntegrityValues = ['verified', 'legacy', 'tampered'] as const;

export interface LedgerRefDto {
  siteId: string;
  seq: number;
}

export interface LedgerVerificationView {
  ok: boolean;
  length: number;
  /** recordHash of the last link (64 zeros for an empty chain) */
  headHash: string;
  /** The first seq that does not verify */
  brokenAtSeq?: number;
  reason?: 'seq_gap' | 'prev_hash_mismatch' | 'record_hash_mismatch' | 'wrong_log' | 'checkpoint_signature_invalid' | 'key_outside_window' | 'signed_at_mismatch' | 'signed_at_out_of_order' | 'checkpoint_mismatch' | 'checkpoint_missing' | 'tail_cut' | 'unauthenticated_entry';
  /** hex root of the RFC 6962 Merkle tree over the verified links */
  rootHash: string;
  checkpointsChecked: number;
  /** Checkpoints read from the witness file (outside the store) */
  witnessedCheckpoints: number;
}

export const LedgerVerificationViewReasonValues = ['seq_gap', 'prev_hash_mismatch', 'record_hash_mismatch', 'wrong_log', 'checkpoint_signature_invalid', 'key_outside_window', 'signed_at_mismatch', 'signed_at_out_of_order', 'checkpoint_mismatch', 'checkpoint_missing', 'tail_cut', 'unauthenticated_entry'] as const;

export interface LegacyAuthDto {
  /** a hardware key (HARDWARE_API_KEYS) */
  api_key: string;
}

export interface LegacyAuthResponse {
  /** JWT for /ws/hardware and /ws/app (they pair by its jti) */
  token: string;
  expires_in: number;
}

export interface LogKeyView {
  /** First 16 hex digits of SHA-256 of the raw public key */
  kid: string;
  alg: string;
  /** The 32-byte Ed25519 public key, base64 */
  publicKey: string;
  status: 'active' | 'retired';
  /** Start of the signing window (ISO-8601) */
  notBefore?: string;
  /** End of the signing window (ISO-8601); absent for the active key */
  notAfter?: string;
  /** C2SP verifier key for the requested origin: <origin>+<key id hex>+<base64(0x01 ‖ key)> */
  verifierKey?: string;
}

export const LogKeyViewStatusValues = ['active', 'retired'] as const;

export interface LogKeysView {
  keys: LogKeyView[];
}

export interface OpenMobileSessionDto {
  user_id: string;
  /** kept by the server, never sent to the kiosk; `PLT_` and 10 to 124 letters or digits */
  platform_id: string;
}

export interface OpenMobileSessionResponse {
  /** JWT that opens only /ws/mobile; stays on the phone */
  token: string;
  session_id: string;
  expires_at: string;
  qr_payload: SessionQrPayload;
}

export interface PacketGeoDoc {
  /** Latitude in degrees: a JSON number (a string is refused) */
  lat: number;
  /** Longitude in degrees: a JSON number (a string is refused) */
  lng: number;
  /** The fix's accuracy radius in metres: a JSON number */
  accuracyM: number;
}

export interface PacketReceiptView {
  seq: number;
  /** seq − 1 */
  leafIndex: number;
  /** hex SHA-256(0x00 ‖ recordHash bytes) */
  leafHash: string;
  /** Size of the tree of the checkpoint it is proven against */
  treeSize: number;
  /** base64 hashes, RFC 9162 §2.1.3 order */
  inclusionProof: string[];
}

export interface PacketResultView {
  packetId: string;
  status: 'accepted' | 'duplicate' | 'rejected';
  /** Why it was rejected (with status rejected); each is also a fraud event. Final for the packet (the same packet again gets the same answer) except timestamp_in_future, which is accepted once the server clock reaches its timestamp minus SYNC_MAX_CLOCK_SKEW_SECONDS (docs/phone-client.md) */
  reason?: 'malformed_packet' | 'device_mismatch' | 'invalid_signature' | 'worker_mismatch' | 'site_not_allowed' | 'timestamp_in_future' | 'timestamp_too_old' | 'outside_token_window' | 'packet_id_conflict' | 'worker_inactive';
  /** With reason malformed_packet or invalid_signature: what is wrong with the packet, e.g. "signature must be 64 lowercase hex characters" (for invalid_signature only that it does not verify) */
  detail?: string;
  seq?: number;
  recordHash?: string;
  /** Keep it: proves the link is in the log */
  receipt?: PacketReceiptView;
}

export const PacketResultViewStatusValues = ['accepted', 'duplicate', 'rejected'] as const;

export const PacketResultViewReasonValues = ['malformed_packet', 'device_mismatch', 'invalid_signature', 'worker_mismatch', 'site_not_allowed', 'timestamp_in_future', 'timestamp_too_old', 'outside_token_window', 'packet_id_conflict', 'worker_inactive'] as const;

export interface PayrollCloseHeadView {
  from: string;
  to: string;
  /** When the period was closed (ISO-8601 UTC) */
  at: string;
  /** Who closed it: `<role>:<keyId>` */
  by: string;
}

export interface PayrollCloseView {
  from: string;
  to: string;
  /** When the period was closed (ISO-8601 UTC) */
  at: string;
  /** Who closed it: `<role>:<keyId>` */
  by: string;
  siteId: string;
  /** `tampered`: the stored close does not verify under the server's store-MAC tag (changed outside the server); the payroll of a period it overlaps answers 503 payroll_close_tampered */
  integrity: 'verified' | 'tampered';
  /** Per worker, the totals the payroll showed when the period was closed */
  workers: ClosedWorkerView[];
}

export const PayrollCloseViewIntegrityValues = ['verified', 'tampered'] as const;

export interface PayrollClosesView {
  /** The site's chain of closes (each names the one recorded before it, a tagged head names the latest): `broken` when a close was deleted, reordered or changed outside the server (the payroll reads, closes and thekedar corrections of the site then answer 503 payroll_close_chain_broken) */
  chain: 'verified' | 'broken';
  closes: PayrollCloseView[];
  /** Pass as ?before= for the next page (absent on the last) */
  nextBefore?: string;
}

export const PayrollClosesViewChainValues = ['verified', 'broken'] as const;

export interface PayrollTotalsView {
  daysPresent: number;
  hours: number;
  workedSeconds: number;
  flaggedDays: number;
}

export interface PayrollView {
  siteId: string;
  timeZone: string;
  from: string;
  to: string;
  /** The period read is exactly a closed one (POST …/payroll/closes): each worker carries `atClose` and `sinceClose`, and a worker of the close with no day now shows with zeros */
  closed?: PayrollCloseHeadView;
  /** The closed periods the period read overlaps, when it is not exactly one of them */
  overlapsClosed?: PayrollCloseHeadView[];
  workers: PayrollWorkerView[];
}

export interface PayrollWorkerView {
  workerId: string;
  /** The worker's name now (what its record says when the summary is read, as the CSV's `worker_name`); absent only if no worker record has this workerId */
  name?: string;
  /** The worker's phone now, as the CSV's `worker_phone` (E.164; a worker stored before phones were normalized shows its number as typed); absent as `name` is */
  phone?: string;
  /** Days with at least one shift, that is with a live check-in: a day whose shift is still open counts (0 hours, flagged open_shift), a day with only a check-out without a check-in does not (flagged; an add_check_in correction makes it a shift) */
  daysPresent: number;
  /** workedSeconds / 3600 rounded to 2 decimals once, for the period: the days' hours (and the CSV's rows) are each rounded, so their sum may differ from it by up to 0.005 a day. workedSeconds is not rounded: whole seconds per shift, each truncated to the second. */
  hours: number;
  /** The sum of the days' workedSeconds */
  workedSeconds: number;
  /** Days flagged (see TimesheetDayView.flagged): an open shift, a stray check-out, a low-trust punch, an overlapping added shift, a shift overlapping one at another site (its hours are in both sites' payrolls until corrected), more hours than the longest shift, fraud not dismissed in review, or a fraud event changed outside the server; a day fixed by corrections (a stray punch voided) or whose fraud events were all dismissed (`fraud_dismissed`) is not counted */
  flaggedDays: number;
  correctedDays: number;
  /** The worker's punches at this site that the server refused at sync, by their claimed time in the period (the site's local days): timestamp_too_old (a phone offline longer than SYNC_MAX_OFFLINE_AGE_HOURS), outside_token_window, site_not_allowed and timestamp_in_future of a well-formed packet signed by the phone, for the token worker. One per packet (its device and packetId), however often and for whatever reasons it was refused; none for a packet the ledger holds (accepted when sent again, as a timestamp_in_future once the server clock caught up: it is in the hours). Not in the hours: pay them from the site register (an add_shift correction). List them: GET /api/v5/fraud/events?workerId=&type=timestamp_too_old&from= (each event `punch`). A worker with refused punches and no day has a row of zeros with them */
  refusedPunches: number;
  /** When the period read is a closed one (`closed`): the totals the close recorded for the worker (zeros for a worker with no day then) */
  atClose?: PayrollTotalsView;
  /** When the period read is a closed one: the totals now less `atClose` (a late sync, an admin's correction since the close): what the next pay run adds, or takes back when negative */
  sinceClose?: PayrollTotalsView;
}

export interface PunchView {
  seq: number;
  /** ISO-8601 UTC */
  at: string;
  /** Local time with offset */
  local: string;
}

export interface RefreshOfflineTokenDto {
  deviceId: string;
  /** ISO-8601 UTC, within SYNC_MAX_CLOCK_SKEW_SECONDS (300) of the server's time */
  timestamp: string;
  /** lowercase hex HMAC-SHA256, key = the device secret bytes, message = UTF-8 of `mdai.token-refresh.<deviceId>.<timestamp>` */
  signature: string;
}

export interface RefreshOfflineTokenResponse {
  /** A new ES256 offline token for the same device, worker and sites. Its window runs from SYNC_MAX_CLOCK_SKEW_SECONDS before its issue time (the slack for a phone clock that runs slow) to its expiry: a packet recorded before that belongs to the previous token */
  offlineToken: string;
  offlineTokenExpiresAt: string;
  /** Until when packets recorded under this token still sync after it expires (OFFLINE_TOKEN_GRACE_DAYS) */
  syncGraceEndsAt: string;
}

export interface RefusedPunchView {
  type: 'check_in' | 'check_out';
  /** The punch's time as the phone claimed it (ISO 8601, UTC); null when the stored value is not a date (the event then reads tampered) */
  at: string;
  /** The site the punch claimed (the event siteId) */
  siteId?: string;
}

export const RefusedPunchViewTypeValues = ['check_in', 'check_out'] as const;

export interface RegisterDeviceDto {
  device_id: string;
  /** RSA (≥ 2048 bits) public key, SPKI PEM */
  public_key: string;
}

export interface RegisterWorkerDeviceDto {
  enrollmentCode: string;
  fingerprint: DeviceFingerprintDto;
}

export interface RegisterWorkerDeviceResponse {
  deviceId: string;
  /** base64 of 32 random bytes: the HMAC key for attendance packets. Shown once, stored encrypted. */
  deviceSecret: string;
  trustScore: number;
  /** ES256 JWT; check it with /api/v5/.well-known/jwks.json */
  offlineToken: string;
  offlineTokenExpiresAt: string;
}

export interface ReviewFraudEventDto {
  /** dismissed: a false positive, no longer weighing on the device's trust score; confirmed: it stays */
  decision: 'dismissed' | 'confirmed';
  /** Trimmed of surrounding white space, then 1 to 500 characters with at least one visible character (white space and invisible marks such as U+200B do not count); no control characters other than line breaks and tabs, no text-direction controls (U+202A–U+202E, U+2066–U+2069): else 400 validation_failed naming the field */
  reason: string;
}

export const ReviewFraudEventDtoDecisionValues = ['dismissed', 'confirmed'] as const;

export interface RotateKeyDto {
  /** The new RSA (≥ 2048 bits) public key, SPKI PEM */
  public_key: string;
  /** Trimmed of surrounding white space, then 3 to 500 characters with at least 3 visible characters (white space and invisible marks such as U+200B do not count); no control characters other than line breaks and tabs, no text-direction controls (U+202A–U+202E, U+2066–U+2069): else 400 validation_failed naming the field */
  reason: string;
}

export interface SessionQrPayload {
  type: string;
  session_id: string;
  /** JWT that opens only /ws/device */
  token: string;
  ws_device_url: string;
}

export interface ShiftView {
  in: PunchView;
  out?: PunchView;
  /** Elapsed time from in to out, truncated to whole seconds */
  seconds: number;
  /** true for a shift an add_shift correction recorded (its `in.seq` and `out.seq` are that correction's seq; who made it is the ledger entry's `by`); absent for punched shifts */
  added?: boolean;
}

export interface SignedPacketDto {
  /** Exactly these members, no others: deviceId, geo, packetId, siteId, timestamp, type, workerId; geo exactly accuracyM, lat, lng. Kept exactly as signed. A packet that breaks a rule is answered in its result as rejected, reason malformed_packet, with a detail saying what is wrong (docs/phone-client.md) */
  payload: AttendancePayloadDoc;
  /** Lowercase hex (64 characters) of HMAC-SHA256, key = the device secret bytes (deviceSecret, base64-decoded), message = UTF-8 of JCS(payload) (RFC 8785) */
  signature: string;
}

export interface SiteView {
  siteId: string;
  name: string;
  geo: GeoPointDto;
  /** Geofence radius in metres */
  radiusM: number;
  /** IANA time zone of the site */
  timeZone?: string;
  createdAt: string;
  /** Whether the stored record carries the server's store-MAC tag (SiteSeal): `tampered` (its name, geofence or time zone changed outside the server, the fields shown as stored) is refused wherever a decision reads it (503 site_tampered: syncs of its packets, its timesheets, payroll, CSV exports and corrections; 403 site_tampered: an admin's change of it, a worker or thekedar given it); `legacy` a record from before the tags */
  integrity?: 'verified' | 'legacy' | 'tampered';
}

export const SiteViewIntegrityValues = ['verified', 'legacy', 'tampered'] as const;

export interface StoredFileView {
  fileId: string;
  /** Plaintext size in bytes */
  size: number;
  /** SHA-256 hex of the plaintext */
  sha256: string;
}

export interface SuccessResponse {
  success: boolean;
}

export interface SyncCheckpointView {
  siteId: string;
  origin: string;
  treeSize: number;
  /** hex */
  rootHash: string;
  /** C2SP tlog-checkpoint signed note (Ed25519), byte for byte */
  note: string;
}

export interface SyncRequestDto {
  /** At most SYNC_MAX_PACKETS packets (500 by default, the maxItems shown); more is 413 too_many_packets naming the limit */
  packets: SignedPacketDto[];
}

export interface SyncResponse {
  results: PacketResultView[];
  accepted: number;
  duplicates: number;
  rejected: number;
  /** The signed checkpoints the receipts are proven against (absent with ?receipts=false) */
  checkpoints?: SyncCheckpointView[];
}

export interface ThekedarEnrollmentCodeResponse {
  thekedarId: string;
  /** Single use; shown only in this response. The thekedar's earlier unused codes no longer work. */
  enrollmentCode: string;
  /** Until when the code can be spent (ENROLLMENT_CODE_TTL_HOURS from now) */
  expiresAt: string;
}

export interface ThekedarView {
  thekedarId: string;
  name: string;
  /** E.164 (`+919810000001`); a person stored before phones were normalized (2026-12) shows its number as typed until it is changed */
  phone: string;
  trustScore: number;
  /** The sites the thekedar works on (its signed requests reach these only), ascending */
  siteIds: string[];
  createdAt: string;
  /** Whether the stored record carries the server's store-MAC tag (ThekedarSeal): `tampered` (its sites, phone or trust score changed outside the server, the fields shown as stored) is refused wherever it acts (403 thekedar_tampered: its signed requests, its registration, an admin's change of its sites); `legacy` a record from before the tags */
  integrity?: 'verified' | 'legacy' | 'tampered';
}

export const ThekedarViewIntegrityValues = ['verified', 'legacy', 'tampered'] as const;

export interface TimesheetDayView {
  workerId: string;
  /** Local day in the site zone */
  date: string;
  /** Local time with offset, to the second */
  firstIn?: string;
  /** Local time with offset, to the second */
  lastOut?: string;
  /** workedSeconds / 3600, rounded to 2 decimals */
  hours: number;
  /** The day's shifts' whole seconds, summed: each shift's elapsed time truncated to the second (under a second short per shift), so days, CSV rows and the payroll add up exactly */
  workedSeconds: number;
  shifts: ShiftView[];
  flags: DayFlagView[];
  /** true when a flag needs a look (any but the informational `corrected`, `voided_punch`, `voided_correction`): a day whose problems corrections resolved is not flagged */
  flagged: boolean;
  corrected: boolean;
  /** Every ledger seq behind the day */
  seqs: number[];
}

export interface TimesheetPageView {
  siteId: string;
  timeZone: string;
  from: string;
  to: string;
  days: TimesheetDayView[];
  /** Pass as ?cursor= for the next page (absent on the last). A page may hold fewer days than limit, even none, and still have one: a page visits at most TIMESHEET_PAGE_MAX_WORKERS workers (1,000 by default), so a period with few days among many workers takes several pages. Read until nextCursor is absent, not until a page is short. A cursor is bound to its listing: the same site, from, to and workerId. */
  nextCursor?: string;
}

export interface TrustFactorView {
  name: 'baseline' | 'device_age' | 'fraud_history' | 'unsigned_rejections' | 'packet_flood' | 'user_agent' | 'app_version' | 'device_id_header' | 'ip' | 'block_state';
  /** Points added (negative: taken off) */
  effect: number;
  detail: string;
}

export const TrustFactorViewNameValues = ['baseline', 'device_age', 'fraud_history', 'unsigned_rejections', 'packet_flood', 'user_agent', 'app_version', 'device_id_header', 'ip', 'block_state'] as const;

export interface UpdateSiteDto {
  name?: string;
  /** The geofence centre (both lat and lng) */
  geo?: GeoPointDto;
  /** Geofence radius in metres */
  radiusM?: number;
  /** Refused (400 time_zone_immutable): a site's time zone cannot be changed after creation */
  timeZone?: Record<string, unknown>;
}

export interface UpdateThekedarDto {
  /** The sites the thekedar works on: its signed requests create workers and read timesheets at these only (any other site, an unknown one the same: 403 site_not_allowed). Each must exist (404 site_not_found). Its workers' own sites are theirs, set at their creation. The list replaces the one before; empty: no site (the thekedar onboards and reads nowhere, its workers stay). */
  siteIds: string[];
}

export interface UpdateWorkerDto {
  name?: string;
  /** Stored in E.164. A number without a country code is one of PHONE_DEFAULT_COUNTRY (IN): `098100 00001`, `98100 00001`, `0091 98100 00001` and `+91 98100 00001` are one number. Not a possible number for its country: 400 invalid_phone. */
  phone?: string;
  /** The worker's sites from now on (all of them, 1 to 50, as at creation). A site added claims the phone there (409 worker_exists when another worker has it: nothing changed), a site removed releases it. The worker's phones get the new sites in their next offline token (POST /api/v5/device/token); a packet for a removed site is refused (`site_not_allowed`) from now on whatever token carries it, and packets accepted before stay in the ledger and timesheets. */
  siteIds?: string[];
}

export interface ValidateChallengeDto {
  bson_id: string;
  /** base64 of the 32 decrypted bytes */
  challenge_response: string;
}

export interface ValidateChallengeResponse {
  success: boolean;
  wifi_credentials: WifiCredentials;
}

export interface VaultAuditRecordView {
  seq: number;
  fileId: string;
  actor: string;
  role: string;
  ip: string;
  purpose: string;
  action: 'store' | 'read' | 'delete' | 'purge';
  result: 'allowed' | 'denied' | 'failed';
  reason?: string;
  /** When it happened (ISO 8601); null when the stored value is not a date (a tampered or damaged record: verify names it, record_hash_mismatch) */
  at: string;
  prevHash: string;
  recordHash: string;
}

export const VaultAuditRecordViewActionValues = ['store', 'read', 'delete', 'purge'] as const;

export const VaultAuditRecordViewResultValues = ['allowed', 'denied', 'failed'] as const;

export interface VaultAuditVerificationView {
  ok: boolean;
  length: number;
  headHash: string;
  brokenAtSeq?: number;
  /** unauthenticated_entry: a record past the last checkpoint was not written by the server (no valid server MAC, or fields that do not match it): no checkpoint is signed over it and the vault answers 503 audit_unavailable until an operator runs `vault:seal-foreign` */
  reason?: 'seq_gap' | 'prev_hash_mismatch' | 'record_hash_mismatch' | 'checkpoint_signature_invalid' | 'key_outside_window' | 'signed_at_mismatch' | 'signed_at_out_of_order' | 'checkpoint_mismatch' | 'checkpoint_missing' | 'tail_cut' | 'unauthenticated_entry';
  /** hex root of the RFC 6962 Merkle tree over the verified records */
  rootHash: string;
  checkpointsChecked: number;
  /** Checkpoints read from the witness file (outside the store) */
  witnessedCheckpoints: number;
}

export const VaultAuditVerificationViewReasonValues = ['seq_gap', 'prev_hash_mismatch', 'record_hash_mismatch', 'checkpoint_signature_invalid', 'key_outside_window', 'signed_at_mismatch', 'signed_at_out_of_order', 'checkpoint_mismatch', 'checkpoint_missing', 'tail_cut', 'unauthenticated_entry'] as const;

export interface VaultKeyUsageView {
  activeVersion: string;
  /** Sealed values per master key version, over every module: vault data keys, worker-device secrets, Wi-Fi passwords, session platform ids (what `npm run keys:reseal` reseals), and the phone outcomes the relay keeps for sessions not expired (`kept session outcomes`: never resealed, they go when the phone has them or the session ends) */
  inUse: Record<string, unknown>;
  /** The same counts by owner */
  byOwner: Record<string, unknown>;
  /** Versions of VAULT_KEYS that nothing is sealed under, that no live server seals new values under (its active version, VAULT_ACTIVE_KEY) and that VAULT_KEYS does not list after the active version (a rotation adds its new version last with VAULT_ACTIVE_KEY pinned to the old one: that new version is about to be used): they can be dropped from VAULT_KEYS (what `npm run keys:reseal` prints) */
  droppable: string[];
  /** Versions values are sealed under that this server's VAULT_KEYS does not hold (those values answer 503 key_unavailable here; when another live server holds the version, this one is behind a rollout: restart it with the current VAULT_KEYS; when none does, see `unheld`) */
  missing: string[];
  /** Of `missing`, the versions no live server holds either (none recorded in the last 3 minutes): those values answer 503 key_unavailable on every server until one runs with a VAULT_KEYS that holds the version (a `keys:reseal --force` under a version the replicas lack, a version dropped too early, or a store restored from a backup taken before the version was dropped: add the dropped version back to VAULT_KEYS). /health is not degraded for them */
  unheld: string[];
}

export interface WhoAmIView {
  /** The roles the key holds */
  roles: Array<'admin' | 'provisioner' | 'auditor' | 'mobile' | 'hardware'>;
  /** First 12 hex chars of SHA-256 of the key (as recorded in audits) */
  keyId: string;
}

export const WhoAmIViewRolesValues = ['admin', 'provisioner', 'auditor', 'mobile', 'hardware'] as const;

export interface WifiCredentials {
  ssid: string;
  password: string;
}

export interface WorkerDetailView {
  workerId: string;
  name: string;
  /** E.164 (`+919810000001`); a person stored before phones were normalized (2026-12) shows its number as typed until it is changed */
  phone: string;
  /** Sites the worker may check in at */
  siteIds: string[];
  /** inactive: deactivated (the worker left): its phones get no token and sync nothing (403 worker_inactive), its phone number is free for another worker; its history and timesheets stay */
  status: 'active' | 'inactive';
  /** When the worker was last deactivated or reactivated */
  statusChangedAt?: string;
  trustScore: number;
  /** Who created the worker */
  sponsorKind: 'admin' | 'thekedar';
  /** The onboarding thekedar, when sponsorKind is thekedar */
  thekedarId?: string;
  trustInheritedUntil?: string;
  createdAt: string;
  /** Whether the stored record carries the server's store-MAC tag: `tampered` (its name, phone, sites, status, trust score or newest event changed outside the server, the fields shown as stored) is refused wherever the worker is used (403 worker_tampered: syncs, tokens, registrations, admin changes; 503 worker_tampered: payroll and CSV exports of its sites); `legacy` a record from before the tags */
  integrity?: 'verified' | 'legacy' | 'tampered';
  /** Its status, site and phone changes, oldest first */
  events: WorkerEventView[];
}

export const WorkerDetailViewStatusValues = ['active', 'inactive'] as const;

export const WorkerDetailViewSponsorKindValues = ['admin', 'thekedar'] as const;

export const WorkerDetailViewIntegrityValues = ['verified', 'legacy', 'tampered'] as const;

export interface WorkerDeviceDetailView {
  deviceId: string;
  user: DeviceUserView;
  /** The sites of the person when the phone registered; a worker's token refresh carries the worker's sites as they are then (GET /api/v5/workers/{workerId}) */
  siteIds: string[];
  fingerprint: FingerprintView;
  /** The score the device was given at registration (the person's standing then), stored with it and never updated: not the live score. The live score, with its factors (fraud history, device age, block state), is GET /api/v5/devices/{deviceId}/trust; each sync records the score of its moment as meta.deviceTrustScore */
  trustScore: number;
  /** With `?trust=live` only: the live score now (baseline, device age, fraud history, block state); its factors are GET /api/v5/devices/{deviceId}/trust */
  liveTrustScore?: number;
  /** Blocked: by an admin or the trust floor, or because the stored block state does not verify (`blockIntegrity: tampered`): its syncs and token refreshes are refused (device_blocked) */
  isBlocked: boolean;
  /** Whether the server vouches for the stored block state (its store-MAC tag): `verified`; `legacy` (stored before the tags, tagged once at the upgrade: it holds as stored until the next block or unblock); `tampered` (changed outside the server, e.g. is_blocked set in the database: the device is treated as blocked, and an admin's block or unblock re-tags it) */
  blockIntegrity: 'verified' | 'legacy' | 'tampered';
  lastSeen?: string;
  createdAt: string;
  events: WorkerDeviceEventView[];
}

export const WorkerDeviceDetailViewBlockIntegrityValues = ['verified', 'legacy', 'tampered'] as const;

export interface WorkerDeviceEventView {
  action: 'registered' | 'blocked' | 'unblocked';
  actor: string;
  reason?: string;
  at: string;
  /** Whether the server vouches for the event (its store-MAC tag): `verified`; `legacy` (stored before the tags, tagged once at the upgrade); `tampered` (inserted or changed outside the server: an `unblocked` one is no unblock for the trust floor, nor is one dated after now) */
  integrity: 'verified' | 'legacy' | 'tampered';
}

export const WorkerDeviceEventViewActionValues = ['registered', 'blocked', 'unblocked'] as const;

export const WorkerDeviceEventViewIntegrityValues = ['verified', 'legacy', 'tampered'] as const;

export interface WorkerDeviceStatusChangeDto {
  /** Trimmed of surrounding white space, then 3 to 500 characters with at least 3 visible characters (white space and invisible marks such as U+200B do not count); no control characters other than line breaks and tabs, no text-direction controls (U+202A–U+202E, U+2066–U+2069): else 400 validation_failed naming the field */
  reason: string;
}

export interface WorkerDeviceView {
  deviceId: string;
  user: DeviceUserView;
  /** The sites of the person when the phone registered; a worker's token refresh carries the worker's sites as they are then (GET /api/v5/workers/{workerId}) */
  siteIds: string[];
  fingerprint: FingerprintView;
  /** The score the device was given at registration (the person's standing then), stored with it and never updated: not the live score. The live score, with its factors (fraud history, device age, block state), is GET /api/v5/devices/{deviceId}/trust; each sync records the score of its moment as meta.deviceTrustScore */
  trustScore: number;
  /** With `?trust=live` only: the live score now (baseline, device age, fraud history, block state); its factors are GET /api/v5/devices/{deviceId}/trust */
  liveTrustScore?: number;
  /** Blocked: by an admin or the trust floor, or because the stored block state does not verify (`blockIntegrity: tampered`): its syncs and token refreshes are refused (device_blocked) */
  isBlocked: boolean;
  /** Whether the server vouches for the stored block state (its store-MAC tag): `verified`; `legacy` (stored before the tags, tagged once at the upgrade: it holds as stored until the next block or unblock); `tampered` (changed outside the server, e.g. is_blocked set in the database: the device is treated as blocked, and an admin's block or unblock re-tags it) */
  blockIntegrity: 'verified' | 'legacy' | 'tampered';
  lastSeen?: string;
  createdAt: string;
}

export const WorkerDeviceViewBlockIntegrityValues = ['verified', 'legacy', 'tampered'] as const;

export interface WorkerEnrollmentCodeResponse {
  workerId: string;
  /** Single use; shown only in this response. The worker's earlier unused codes no longer work. */
  enrollmentCode: string;
  /** Until when the code can be spent (ENROLLMENT_CODE_TTL_HOURS from now) */
  expiresAt: string;
}

export interface WorkerEventView {
  /** phone_changed: the worker's phone number changed (where its pay goes), by `actor` at `at`; both numbers masked */
  action: 'deactivated' | 'reactivated' | 'sites_changed' | 'phone_changed';
  actor: string;
  reason?: string;
  /** sites_changed: the sites after it */
  siteIds?: string[];
  /** sites_changed: the sites before it (for the first change, those the worker was created with). Absent on a change recorded before this field was kept: the sites before it are not known, and a packet or add_shift dated before it is judged by the sites the token names (a packet) or accepted at any site (add_shift) */
  previousSiteIds?: string[];
  /** phone_changed: the new number, masked (its last 4 digits; the full number is the worker's `phone`) */
  phone?: string;
  /** phone_changed: the number before it, masked (its last 4 digits) */
  previousPhone?: string;
  at: string;
}

export const WorkerEventViewActionValues = ['deactivated', 'reactivated', 'sites_changed', 'phone_changed'] as const;

export interface WorkerStatusChangeDto {
  /** Trimmed of surrounding white space, then 3 to 500 characters with at least 3 visible characters (white space and invisible marks such as U+200B do not count); no control characters other than line breaks and tabs, no text-direction controls (U+202A–U+202E, U+2066–U+2069): else 400 validation_failed naming the field */
  reason: string;
}

export interface WorkerView {
  workerId: string;
  name: string;
  /** E.164 (`+919810000001`); a person stored before phones were normalized (2026-12) shows its number as typed until it is changed */
  phone: string;
  /** Sites the worker may check in at */
  siteIds: string[];
  /** inactive: deactivated (the worker left): its phones get no token and sync nothing (403 worker_inactive), its phone number is free for another worker; its history and timesheets stay */
  status: 'active' | 'inactive';
  /** When the worker was last deactivated or reactivated */
  statusChangedAt?: string;
  trustScore: number;
  /** Who created the worker */
  sponsorKind: 'admin' | 'thekedar';
  /** The onboarding thekedar, when sponsorKind is thekedar */
  thekedarId?: string;
  trustInheritedUntil?: string;
  createdAt: string;
  /** Whether the stored record carries the server's store-MAC tag: `tampered` (its name, phone, sites, status, trust score or newest event changed outside the server, the fields shown as stored) is refused wherever the worker is used (403 worker_tampered: syncs, tokens, registrations, admin changes; 503 worker_tampered: payroll and CSV exports of its sites); `legacy` a record from before the tags */
  integrity?: 'verified' | 'legacy' | 'tampered';
}

export const WorkerViewStatusValues = ['active', 'inactive'] as const;

export const WorkerViewSponsorKindValues = ['admin', 'thekedar'] as const;

export const WorkerViewIntegrityValues = ['verified', 'legacy', 'tampered'] as const;
