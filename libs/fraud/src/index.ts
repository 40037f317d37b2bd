export * from './fraud.module';
