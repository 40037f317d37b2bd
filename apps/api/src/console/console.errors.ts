import { CodeOf, DomainError } from '@app/common';

export const CONSOLE_ERRORS = {
  module: 'console',
  codes: {
    console_not_built: 'the operator console has not been built on this server (`npm run build`)',
    not_found: 'no console asset has this name',
  },
} as const;

export type ConsoleErrorCode = CodeOf<typeof CONSOLE_ERRORS>;

export class ConsoleError extends DomainError<ConsoleErrorCode> {
  readonly module = CONSOLE_ERRORS.module;
}
