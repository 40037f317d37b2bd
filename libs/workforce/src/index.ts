export * from './workforce.module';
export * from './workforce.service';
export * from './worker-admission';
export * from './onboarding.guard';
export * from './thekedar-signature.headers';
export * from './domain/workforce';
export * from './domain/enrollment-code';
export * from './domain/trust-defaults';
export * from './workforce.config';
export * from './workforce.errors';
export * from './domain/phone-number';
export * from './domain/worker-standing';
export {
  WorkerRetagOutcome,
  WorkerSeal,
  WORKER_LEGACY_REFUSALS,
} from './infrastructure/persistence/worker-seal';
export { RecordRetagOutcome } from './infrastructure/persistence/site-seal';
export { SiteSeal, ThekedarSeal } from './infrastructure/persistence/site-seal';
export { SealedRecordKind } from './infrastructure/persistence/workforce.repository';
