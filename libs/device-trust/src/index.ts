export * from './device-trust.module';
export * from './kiosk-registry.service';
export * from './domain/kiosk-device';
export * from './domain/kiosk-public-key';
export * from './dto/kiosk.dto';
