export * from './relay.module';
export * from './relay-hub';
export * from './relay-ws.adapter';
export * from './protocol/messages';
export * from './privacy/platform-id-filter';
export * from './relay.config';
export * from './upstream/upstream.config';
export * from './relay.errors';
