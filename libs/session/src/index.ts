export * from './session.module';
export * from './session.service';
export * from './session-token.service';
export * from './domain/pairing-session';
export * from './session.config';
export * from './session.errors';
