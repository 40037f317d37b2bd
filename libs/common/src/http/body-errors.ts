import { CommonError } from '../errors/common.errors';
import type { ErrorCodesByStatus } from './access-doc';

/**
 * Every error the body pipeline (`bodyPipeline`, its JSON parser `parseJsonBody` and the
 * body-parser errors it maps) can answer, by the status the exception filter gives it. The
 * pipeline raises nothing but `BodyPipelineError`, whose code is one of these, so a new refusal
 * there does not compile until it is listed here; the OpenAPI document lists these on every
 * route that reads a body (apps/api/src/openapi-access.ts), and its generator stops when a
 * status here is not the one the status table gives the code.
 */
export const BODY_PIPELINE_ERRORS = {
  400: [
    'invalid_json',
    'json_too_deep',
    'json_duplicate_key',
    'json_reserved_key',
    'json_too_many_keys',
    'json_string_too_long',
    'json_number_out_of_range',
    'json_lone_surrogate',
    'invalid_content_encoding',
    'bad_request',
    'request_aborted',
  ],
  413: ['payload_too_large'],
  415: ['unsupported_encoding', 'unsupported_charset'],
} as const satisfies ErrorCodesByStatus;

export type BodyPipelineErrorCode =
  (typeof BODY_PIPELINE_ERRORS)[keyof typeof BODY_PIPELINE_ERRORS][number];

/** A refusal of the body pipeline: a CommonError whose code is one BODY_PIPELINE_ERRORS lists. */
export class BodyPipelineError extends CommonError {
  constructor(code: BodyPipelineErrorCode, message: string) {
    super(code, message);
  }
}
