export * from './provisioning.module';
export * from './provisioning.service';
export * from './provisioning.config';
export * from './provisioning.errors';
