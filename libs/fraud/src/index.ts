export * from './fraud.module';
export * from './fraud.service';
export * from './domain/fraud-event';
export * from './domain/packet-rule';
