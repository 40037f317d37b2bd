import { applyDecorators } from '@nestjs/common';
import { ApiHeader } from '@app/common';

/**
 * The headers of a thekedar-signed request (worker creation, timesheets) in the OpenAPI
 * document; `signature` says what `x-signature` signs on these routes.
 */
export function ApiThekedarSignatureHeaders(signature: string) {
  // applied first to last, the reverse of stacked decorators: the document lists them
  // x-thekedar-id, x-device-id, x-request-timestamp, x-signature
  return applyDecorators(
    ApiHeader({ name: 'x-signature', required: false, description: signature }),
    ApiHeader({ name: 'x-request-timestamp', required: false, description: 'ISO-8601 UTC' }),
    ApiHeader({ name: 'x-device-id', required: false, description: "The thekedar's device" }),
    ApiHeader({ name: 'x-thekedar-id', required: false }),
  );
}
