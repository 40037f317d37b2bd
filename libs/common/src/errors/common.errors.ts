import type { Principal } from '../auth/role';
import { CodeOf, DomainError } from './domain-error';

/** Errors of the request pipeline every route shares: body admission, validation, keys, limits, storage. */
export const COMMON_ERRORS = {
  module: 'common',
  codes: {
    validation_failed:
      'the request body, query or path does not pass validation; `errors` names each field',
    invalid_period:
      "a listing's range ends before it starts (`to` before `from`; equal is a range of one day or instant); `errors` names `to`",
    bad_request: 'the request body could not be read',
    invalid_json: 'the request body is not valid (UTF-8) JSON, or is JSON but not an object',
    json_too_deep: 'the JSON body nests deeper than JSON_MAX_DEPTH levels',
    json_duplicate_key: 'the JSON body repeats a member name in one object (I-JSON forbids it)',
    json_reserved_key:
      'the JSON body has a member named `__proto__`, `constructor` or `prototype`: no request of this API has one, and JavaScript gives those names to object machinery',
    json_too_many_keys: 'the JSON body holds more object members than JSON_MAX_KEYS',
    json_string_too_long: 'a string in the JSON body is longer than JSON_MAX_STRING_LENGTH',
    json_number_out_of_range: 'a number in the JSON body does not fit a 64-bit float (I-JSON)',
    json_lone_surrogate: 'a string in the JSON body holds a lone UTF-16 surrogate (I-JSON)',
    payload_too_large: 'the request body is over JSON_BODY_LIMIT_BYTES',
    unsupported_encoding: 'the Content-Encoding is not one this route decodes',
    unsupported_media_type:
      'a route that reads a JSON body got a body of another Content-Type (or none); send application/json or an application/*+json type (RFC 6839)',
    unsupported_charset: 'the request charset is not supported',
    invalid_content_encoding: 'the request body is not encoded as its Content-Encoding says',
    request_aborted:
      "the client stopped sending the request body (closed its side before the body's end)",
    unauthorized: 'no x-api-key header, or one the server does not know',
    forbidden: 'the x-api-key is valid but holds none of the roles the route accepts',
    rate_limited:
      'too many requests from one address or credential; `Retry-After` says when to retry',
    storage_full:
      'the server has no storage space left for the write; nothing was changed (where a failure leaves a change behind, the route answers its own code instead: POST /api/validate-challenge, challenge_spent_unreleased; POST /api/v5/sync, sync_screen_unfinished)',
    storage_unavailable:
      'the server cannot write to its storage right now; nothing was changed (where a failure leaves a change behind, the route answers its own code instead: POST /api/validate-challenge, challenge_spent_unreleased; POST /api/v5/sync, sync_screen_unfinished)',
    stored_record_invalid:
      'a stored record the answer needs is malformed (a damaged or hand-edited row: the message names the table and key); nothing of it is served. Restore the row from a backup, or for timesheets run `timesheets:rebuild`, and run the verifies (README, "Backup and restore")',
    store_unavailable:
      'the database does not answer right now (MongoDB unreachable or frozen), or is too busy (a hash-chained append lost every try to other writers); retry later. On `POST /api/v5/sync` over MongoDB the batch may be partly stored: send it again (stored packets come back `accepted` or `duplicate`)',
    unhealthy:
      'GET /health: a check failed (the store, the disk or Redis); an admin key gets which one and why',
    method_not_allowed:
      'a path the API serves, with a method it does not serve there; the Allow header lists those it does',
    headers_too_large:
      "the request line and headers are over the server's limit (16 KiB), or a request with an Upgrade the server does not take (h2c) has more header lines than it reads (~1000); answered before any route, the connection closed",
    malformed_request:
      'the request is not well-formed HTTP (an HTTP/1.1 request without a Host header among it, a WebSocket upgrade too); answered before any route or handshake',
    expectation_failed:
      'the request has an Expect header other than `100-continue`; answered before any route, the connection closed',
    request_timeout:
      'the request did not arrive in time: its headers (answered before any route), or its body (no byte for HTTP_BODY_IDLE_TIMEOUT_MS, or a JSON body not whole within HTTP_JSON_BODY_TIMEOUT_MS, or any other body not whole within the longer of 300 s and its size at HTTP_BODY_MIN_RATE_BYTES_PER_SEC); the connection is closed',
  },
} as const;

export type CommonErrorCode = CodeOf<typeof COMMON_ERRORS>;

export class CommonError extends DomainError<CommonErrorCode> {
  readonly module = COMMON_ERRORS.module;
}

/** A refused credential; carries the principal of a known key of the wrong role (for audits). */
export class AuthError extends CommonError {
  constructor(
    code: 'unauthorized' | 'forbidden',
    message: string,
    readonly principal?: Principal,
  ) {
    super(code, message);
  }
}
