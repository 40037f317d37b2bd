import { Provider } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Clock, SystemClock } from '@app/common';
import { bindPort, storeProviders } from '../persistence.module';
import { PortAdapters, Store } from '../store';

const PORT_UNDER_TEST = 'PortUnderTest';

export interface CompiledAdapter<T> {
  adapter: T;
  /** Runs the adapter's shutdown hooks (the store stays open: its opener closes it). */
  close(): Promise<void>;
}

/**
 * Builds one port's adapter on an opened store the way the app does: `bindPort` in a small
 * Nest module with the store, a `Clock` (the system clock unless `providers` gives another)
 * and any other `providers`. With `init` (the default) the adapter's real lifecycle hooks run
 * (the Mongo adapters build their indexes in `onModuleInit`).
 */
export async function compileAdapter<T>(
  store: Store,
  adapters: PortAdapters<T>,
  options: { init?: boolean; providers?: Provider[] } = {},
): Promise<CompiledAdapter<T>> {
  const module = await Test.createTestingModule({
    providers: [
      ...storeProviders(store),
      { provide: Clock, useValue: new SystemClock() },
      ...(options.providers ?? []),
      bindPort(PORT_UNDER_TEST, adapters),
    ],
  }).compile();
  if (options.init ?? true) await module.init();
  return { adapter: module.get<T>(PORT_UNDER_TEST), close: () => module.close() };
}
