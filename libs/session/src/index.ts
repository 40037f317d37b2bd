export * from './session.module';
