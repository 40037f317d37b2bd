export * from './provisioning.module';
export * from './provisioning.service';
