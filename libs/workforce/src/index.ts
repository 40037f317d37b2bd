export * from './workforce.module';
export * from './workforce.service';
export * from './worker-admission';
export * from './onboarding.guard';
export * from './domain/workforce';
export * from './domain/enrollment-code';
export * from './domain/trust-defaults';
export { OBJECT_ID } from './dto/workforce.dto';
export * from './workforce.errors';
