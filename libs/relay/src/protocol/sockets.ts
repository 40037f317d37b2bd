/** Which socket a connection is: new protocol (mobile, device) or legacy (app, hardware). */
export type RelayRole = 'mobile' | 'device' | 'app' | 'hardware';

export const RELAY_PATHS: Record<RelayRole, string> = {
  mobile: '/ws/mobile',
  device: '/ws/device',
  app: '/ws/app',
  hardware: '/ws/hardware',
};

/** The sockets of each protocol, as a message's route names them. */
export const NEW_PROTOCOL = ['mobile', 'device'] as const;
export const LEGACY_PROTOCOL = ['app', 'hardware'] as const;
export const EVERY_SOCKET = [...NEW_PROTOCOL, ...LEGACY_PROTOCOL] as const;
