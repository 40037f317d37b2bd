import { WsAdapter } from '@nestjs/platform-ws';

/**
 * The platform-ws adapter, minus its message dispatch: the relay reads raw frames itself so
 * that invalid JSON and unknown types get an `error` frame instead of being dropped silently
 * (and each frame is parsed once, not twice).
 */
export class RelayWsAdapter extends WsAdapter {
  override bindMessageHandlers(): void {
    // frames are handled by RelayHub
  }
}
