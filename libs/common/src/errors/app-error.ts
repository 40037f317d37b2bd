import { HttpException } from '@nestjs/common';
import { FieldError } from './domain-error';

/**
 * The one error type services throw. `code` is a stable snake_case identifier clients can
 * branch on; `message` is for humans and must never contain a secret, token or platform id.
 */
export class AppError extends HttpException {
  constructor(
    status: number,
    readonly code: string,
    message: string,
    readonly errors?: FieldError[],
  ) {
    super({ code, message, errors }, status);
  }
}
