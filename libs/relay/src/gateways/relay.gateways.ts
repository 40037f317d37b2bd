import { OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { WS_MAX_PAYLOAD } from '../protocol/limits';
import { RELAY_PATHS } from '../protocol/messages';
import { RelayHub } from '../relay-hub';

/**
 * Thin gateways: one per socket path, each hands its sockets to RelayHub. Frames are read
 * raw by the service (the adapter would drop invalid JSON silently); `maxPayload` is the hard
 * cap at which `ws` itself closes the socket (1009), above the relay's own limits, which answer
 * with an `error` frame (WS_MAX_PAYLOAD).
 */
@WebSocketGateway({ path: RELAY_PATHS.mobile, maxPayload: WS_MAX_PAYLOAD.mobile })
export class MobileGateway implements OnGatewayConnection {
  constructor(private readonly relay: RelayHub) {}
  handleConnection(client: WebSocket, request: IncomingMessage): Promise<void> {
    return this.relay.attach('mobile', client, request);
  }
}

@WebSocketGateway({ path: RELAY_PATHS.device, maxPayload: WS_MAX_PAYLOAD.device })
export class DeviceGateway implements OnGatewayConnection {
  constructor(private readonly relay: RelayHub) {}
  handleConnection(client: WebSocket, request: IncomingMessage): Promise<void> {
    return this.relay.attach('device', client, request);
  }
}

@WebSocketGateway({ path: RELAY_PATHS.app, maxPayload: WS_MAX_PAYLOAD.app })
export class LegacyAppGateway implements OnGatewayConnection {
  constructor(private readonly relay: RelayHub) {}
  handleConnection(client: WebSocket, request: IncomingMessage): Promise<void> {
    return this.relay.attach('app', client, request);
  }
}

@WebSocketGateway({ path: RELAY_PATHS.hardware, maxPayload: WS_MAX_PAYLOAD.hardware })
export class LegacyHardwareGateway implements OnGatewayConnection {
  constructor(private readonly relay: RelayHub) {}
  handleConnection(client: WebSocket, request: IncomingMessage): Promise<void> {
    return this.relay.attach('hardware', client, request);
  }
}
