import { HttpStatus } from '@nestjs/common';
import { COMMON_ERRORS, DomainError, ErrorCatalog, ErrorStatusTable } from '@app/common';
import { DEVICE_TRUST_ERRORS } from '@app/device-trust';
import { FRAUD_ERRORS } from '@app/fraud';
import { KIOSK_REGISTRY_ERRORS } from '@app/kiosk-registry';
import { OFFLINE_SYNC_ERRORS } from '@app/offline-sync';
import { PROVISIONING_ERRORS } from '@app/provisioning';
import { RELAY_ERRORS } from '@app/relay';
import { SESSION_ERRORS } from '@app/session';
import { TIMESHEETS_ERRORS } from '@app/timesheets';
import { VAULT_ERRORS } from '@app/vault';
import { WORKFORCE_ERRORS } from '@app/workforce';
import { CONSOLE_ERRORS } from '../console/console.errors';

/** Every module's error catalog, in the order docs/errors.md lists them. */
export const ERROR_CATALOGS = [
  COMMON_ERRORS,
  VAULT_ERRORS,
  KIOSK_REGISTRY_ERRORS,
  PROVISIONING_ERRORS,
  SESSION_ERRORS,
  RELAY_ERRORS,
  WORKFORCE_ERRORS,
  DEVICE_TRUST_ERRORS,
  FRAUD_ERRORS,
  OFFLINE_SYNC_ERRORS,
  TIMESHEETS_ERRORS,
  CONSOLE_ERRORS,
] as const satisfies readonly ErrorCatalog[];

type Catalog = (typeof ERROR_CATALOGS)[number];

/** One row per catalog, one HTTP status per declared code: no more, no fewer. */
export type StatusTable = {
  readonly [C in Catalog as C['module']]: { readonly [Code in keyof C['codes']]: HttpStatus };
};

/**
 * The one place an error code becomes an HTTP status. A code added to a catalog without a status
 * here, a status for a code no catalog declares, or a catalog without its row fails to compile.
 */
export const ERROR_STATUS = {
  common: {
    validation_failed: HttpStatus.BAD_REQUEST,
    invalid_period: HttpStatus.BAD_REQUEST,
    bad_request: HttpStatus.BAD_REQUEST,
    invalid_json: HttpStatus.BAD_REQUEST,
    json_too_deep: HttpStatus.BAD_REQUEST,
    json_duplicate_key: HttpStatus.BAD_REQUEST,
    json_reserved_key: HttpStatus.BAD_REQUEST,
    json_too_many_keys: HttpStatus.BAD_REQUEST,
    json_string_too_long: HttpStatus.BAD_REQUEST,
    json_number_out_of_range: HttpStatus.BAD_REQUEST,
    json_lone_surrogate: HttpStatus.BAD_REQUEST,
    payload_too_large: HttpStatus.PAYLOAD_TOO_LARGE,
    unsupported_encoding: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
    unsupported_charset: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
    unsupported_media_type: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
    invalid_content_encoding: HttpStatus.BAD_REQUEST,
    request_aborted: HttpStatus.BAD_REQUEST,
    unauthorized: HttpStatus.UNAUTHORIZED,
    forbidden: HttpStatus.FORBIDDEN,
    rate_limited: HttpStatus.TOO_MANY_REQUESTS,
    storage_full: HttpStatus.INSUFFICIENT_STORAGE,
    storage_unavailable: HttpStatus.SERVICE_UNAVAILABLE,
    stored_record_invalid: HttpStatus.INTERNAL_SERVER_ERROR,
    store_unavailable: HttpStatus.SERVICE_UNAVAILABLE,
    unhealthy: HttpStatus.SERVICE_UNAVAILABLE,
    method_not_allowed: HttpStatus.METHOD_NOT_ALLOWED,
    headers_too_large: 431 as HttpStatus,
    malformed_request: HttpStatus.BAD_REQUEST,
    expectation_failed: HttpStatus.EXPECTATION_FAILED,
    request_timeout: HttpStatus.REQUEST_TIMEOUT,
  },
  vault: {
    file_not_found: HttpStatus.NOT_FOUND,
    file_deleted: HttpStatus.GONE,
    missing_purpose: HttpStatus.BAD_REQUEST,
    payload_too_large: HttpStatus.PAYLOAD_TOO_LARGE,
    unsupported_media_type: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
    empty_file: HttpStatus.BAD_REQUEST,
    image_type_mismatch: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
    request_aborted: HttpStatus.BAD_REQUEST,
    store_failed: HttpStatus.INTERNAL_SERVER_ERROR,
    // stored data changed outside the server (blob or record): a conflict between the file
    // and its record that a retry does not resolve (as kiosk_tampered), not a server fault
    file_integrity_failed: HttpStatus.CONFLICT,
    key_unavailable: HttpStatus.SERVICE_UNAVAILABLE,
    sealed_value_corrupt: HttpStatus.INTERNAL_SERVER_ERROR,
    audit_unavailable: HttpStatus.SERVICE_UNAVAILABLE,
    checkpoint_not_found: HttpStatus.NOT_FOUND,
  },
  'kiosk-registry': {
    invalid_public_key: HttpStatus.BAD_REQUEST,
    unsupported_key_type: HttpStatus.BAD_REQUEST,
    weak_public_key: HttpStatus.BAD_REQUEST,
    device_key_conflict: HttpStatus.CONFLICT,
    same_key: HttpStatus.CONFLICT,
    public_key_in_use: HttpStatus.CONFLICT,
    device_not_found: HttpStatus.NOT_FOUND,
    device_blocked: HttpStatus.FORBIDDEN,
    kiosk_tampered: HttpStatus.CONFLICT,
    kiosk_mark_unverified: HttpStatus.SERVICE_UNAVAILABLE,
  },
  provisioning: {
    challenge_not_found: HttpStatus.NOT_FOUND,
    invalid_wifi_password: HttpStatus.BAD_REQUEST,
    invalid_challenge_response: HttpStatus.BAD_REQUEST,
    challenge_mismatch: HttpStatus.UNAUTHORIZED,
    challenge_locked: HttpStatus.LOCKED,
    challenge_expired: HttpStatus.GONE,
    challenge_used: HttpStatus.CONFLICT,
    challenge_revoked: HttpStatus.GONE,
    device_blocked: HttpStatus.FORBIDDEN,
    challenge_spent_unreleased: HttpStatus.SERVICE_UNAVAILABLE,
  },
  session: {
    not_authenticated: HttpStatus.UNAUTHORIZED,
    wrong_token_type: HttpStatus.UNAUTHORIZED,
    session_expired: HttpStatus.UNAUTHORIZED,
    session_not_found: HttpStatus.NOT_FOUND,
  },
  relay: {
    bus_unavailable: HttpStatus.SERVICE_UNAVAILABLE,
  },
  workforce: {
    site_not_found: HttpStatus.NOT_FOUND,
    worker_not_found: HttpStatus.NOT_FOUND,
    thekedar_not_found: HttpStatus.NOT_FOUND,
    worker_exists: HttpStatus.CONFLICT,
    invalid_phone: HttpStatus.BAD_REQUEST,
    legacy_time_zone: HttpStatus.BAD_REQUEST,
    time_zone_immutable: HttpStatus.BAD_REQUEST,
    invalid_enrollment_code: HttpStatus.FORBIDDEN,
    worker_inactive: HttpStatus.FORBIDDEN,
    worker_tampered: HttpStatus.FORBIDDEN,
    site_tampered: HttpStatus.FORBIDDEN,
    thekedar_tampered: HttpStatus.FORBIDDEN,
    workforce_change_contended: HttpStatus.SERVICE_UNAVAILABLE,
  },
  'device-trust': {
    device_not_found: HttpStatus.NOT_FOUND,
    missing_signature_headers: HttpStatus.UNAUTHORIZED,
    invalid_signature: HttpStatus.UNAUTHORIZED,
    stale_request: HttpStatus.UNAUTHORIZED,
    replayed_request: HttpStatus.FORBIDDEN,
    device_blocked: HttpStatus.FORBIDDEN,
    worker_inactive: HttpStatus.FORBIDDEN,
    worker_tampered: HttpStatus.FORBIDDEN,
    site_not_allowed: HttpStatus.FORBIDDEN,
  },
  fraud: {
    invalid_cursor: HttpStatus.BAD_REQUEST,
    fraud_event_not_found: HttpStatus.NOT_FOUND,
    fraud_event_tampered: HttpStatus.SERVICE_UNAVAILABLE,
    fraud_review_contended: HttpStatus.SERVICE_UNAVAILABLE,
  },
  'offline-sync': {
    missing_token: HttpStatus.UNAUTHORIZED,
    invalid_token: HttpStatus.FORBIDDEN,
    token_expired: HttpStatus.FORBIDDEN,
    unknown_device: HttpStatus.FORBIDDEN,
    device_blocked: HttpStatus.FORBIDDEN,
    thekedar_device: HttpStatus.FORBIDDEN,
    worker_inactive: HttpStatus.FORBIDDEN,
    worker_tampered: HttpStatus.FORBIDDEN,
    site_tampered: HttpStatus.SERVICE_UNAVAILABLE,
    too_many_packets: HttpStatus.PAYLOAD_TOO_LARGE,
    invalid_signatures: HttpStatus.FORBIDDEN,
    sync_screen_unfinished: HttpStatus.SERVICE_UNAVAILABLE,
    checkpoint_unavailable: HttpStatus.SERVICE_UNAVAILABLE,
    ledger_unauthenticated_entry: HttpStatus.SERVICE_UNAVAILABLE,
    checkpoint_not_found: HttpStatus.NOT_FOUND,
    site_not_found: HttpStatus.NOT_FOUND,
    link_not_found: HttpStatus.NOT_FOUND,
    invalid_proof_request: HttpStatus.BAD_REQUEST,
  },
  timesheets: {
    period_too_long: HttpStatus.BAD_REQUEST,
    invalid_cursor: HttpStatus.BAD_REQUEST,
    site_not_found: HttpStatus.NOT_FOUND,
    worker_not_in_crew: HttpStatus.FORBIDDEN,
    entry_not_found: HttpStatus.NOT_FOUND,
    not_correctable: HttpStatus.UNPROCESSABLE_ENTITY,
    cross_site_correction: HttpStatus.UNPROCESSABLE_ENTITY,
    correction_id_conflict: HttpStatus.CONFLICT,
    already_voided: HttpStatus.CONFLICT,
    time_in_future: HttpStatus.UNPROCESSABLE_ENTITY,
    unexpected_time: HttpStatus.UNPROCESSABLE_ENTITY,
    time_required: HttpStatus.UNPROCESSABLE_ENTITY,
    check_out_out_of_range: HttpStatus.UNPROCESSABLE_ENTITY,
    check_in_out_of_range: HttpStatus.UNPROCESSABLE_ENTITY,
    move_out_of_range: HttpStatus.UNPROCESSABLE_ENTITY,
    move_breaks_shift: HttpStatus.UNPROCESSABLE_ENTITY,
    already_checked_out: HttpStatus.CONFLICT,
    already_checked_in: HttpStatus.CONFLICT,
    not_a_check_in: HttpStatus.UNPROCESSABLE_ENTITY,
    not_a_check_out: HttpStatus.UNPROCESSABLE_ENTITY,
    not_a_punch: HttpStatus.UNPROCESSABLE_ENTITY,
    target_voided: HttpStatus.UNPROCESSABLE_ENTITY,
    not_over_max_hours: HttpStatus.UNPROCESSABLE_ENTITY,
    already_acknowledged: HttpStatus.CONFLICT,
    worker_not_found: HttpStatus.NOT_FOUND,
    worker_not_at_site: HttpStatus.UNPROCESSABLE_ENTITY,
    shift_too_old: HttpStatus.UNPROCESSABLE_ENTITY,
    shift_out_of_range: HttpStatus.UNPROCESSABLE_ENTITY,
    shift_overlap: HttpStatus.UNPROCESSABLE_ENTITY,
    timesheets_rebuilding: HttpStatus.SERVICE_UNAVAILABLE,
    timesheets_tampered: HttpStatus.SERVICE_UNAVAILABLE,
    worker_tampered: HttpStatus.SERVICE_UNAVAILABLE,
    site_tampered: HttpStatus.SERVICE_UNAVAILABLE,
    timesheets_ledger_unverified: HttpStatus.SERVICE_UNAVAILABLE,
    timesheets_key_unavailable: HttpStatus.SERVICE_UNAVAILABLE,
    timesheets_behind: HttpStatus.SERVICE_UNAVAILABLE,
    timesheets_catching_up: HttpStatus.SERVICE_UNAVAILABLE,
    period_closed: HttpStatus.CONFLICT,
    period_overlaps_close: HttpStatus.CONFLICT,
    period_not_over: HttpStatus.UNPROCESSABLE_ENTITY,
    payroll_close_tampered: HttpStatus.SERVICE_UNAVAILABLE,
    payroll_close_chain_broken: HttpStatus.SERVICE_UNAVAILABLE,
    payroll_close_raced: HttpStatus.CONFLICT,
    correction_contended: HttpStatus.SERVICE_UNAVAILABLE,
  },
  console: {
    console_not_built: HttpStatus.NOT_FOUND,
    not_found: HttpStatus.NOT_FOUND,
  },
} as const satisfies StatusTable;

/** The HTTP status the exception filter answers `error` with (undefined only for an unlisted module). */
export function httpStatusOf(error: DomainError): number | undefined {
  return (ERROR_STATUS as ErrorStatusTable)[error.module]?.[error.code];
}
