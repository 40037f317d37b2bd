export * from './provisioning.module';
export * from './provisioning.service';
export * from './provisioning.errors';
