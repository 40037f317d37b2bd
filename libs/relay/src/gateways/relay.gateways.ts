import { OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { WS_MAX_PAYLOAD } from '../protocol/limits';
import { RELAY_PATHS, RelayRole } from '../protocol/messages';
import { RelayHub } from '../relay-hub';

/**
 * Thin gateways: one per socket path, each hands its sockets to RelayHub. Frames are read
 * raw by the service (the adapter would drop invalid JSON silently); `maxPayload` is the hard
 * cap at which `ws` itself closes the socket (1009), above the relay's own limits, which answer
 * with an `error` frame (WS_MAX_PAYLOAD). WebSocket pings are answered by the relay
 * (RelayDelivery.answerPing, within the frame rate), not by `ws` for every one (`autoPong`).
 */
function socketOptions(role: RelayRole) {
  return { path: RELAY_PATHS[role], maxPayload: WS_MAX_PAYLOAD[role], autoPong: false };
}

@WebSocketGateway(socketOptions('mobile'))
export class MobileGateway implements OnGatewayConnection {
  constructor(private readonly relay: RelayHub) {}
  handleConnection(client: WebSocket, request: IncomingMessage): Promise<void> {
    return this.relay.attach('mobile', client, request);
  }
}

@WebSocketGateway(socketOptions('device'))
export class DeviceGateway implements OnGatewayConnection {
  constructor(private readonly relay: RelayHub) {}
  handleConnection(client: WebSocket, request: IncomingMessage): Promise<void> {
    return this.relay.attach('device', client, request);
  }
}

@WebSocketGateway(socketOptions('app'))
export class LegacyAppGateway implements OnGatewayConnection {
  constructor(private readonly relay: RelayHub) {}
  handleConnection(client: WebSocket, request: IncomingMessage): Promise<void> {
    return this.relay.attach('app', client, request);
  }
}

@WebSocketGateway(socketOptions('hardware'))
export class LegacyHardwareGateway implements OnGatewayConnection {
  constructor(private readonly relay: RelayHub) {}
  handleConnection(client: WebSocket, request: IncomingMessage): Promise<void> {
    return this.relay.attach('hardware', client, request);
  }
}
