export * from './kiosk-registry.module';
export * from './kiosk-registry.service';
export * from './domain/kiosk-device';
export * from './domain/kiosk-public-key';
export * from './domain/kiosk-auth';
export * from './dto/kiosk.dto';
export * from './kiosk-registry.errors';
