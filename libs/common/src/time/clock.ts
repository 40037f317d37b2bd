import { Global, Module } from '@nestjs/common';
import { ShutdownDeadline } from './shutdown-deadline';

/**
 * Where "now" comes from. Services that decide by time (trust scores, inheritance windows,
 * replay windows) inject this instead of calling `new Date()`, so tests can move time
 * forward without sleeping.
 */
export abstract class Clock {
  abstract now(): Date;
}

export class SystemClock extends Clock {
  now(): Date {
    return new Date();
  }
}

/** A clock that only moves when told to (tests, demos, replays). */
export class ManualClock extends Clock {
  private current: number;

  constructor(start: Date | string = new Date()) {
    super();
    this.current = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  set(at: Date | string): void {
    this.current = new Date(at).getTime();
  }

  advance(ms: number): void {
    this.current += ms;
  }
}

/**
 * Provides `Clock` everywhere (the system clock unless the composition root passes another),
 * and the app's `ShutdownDeadline`.
 */
@Global()
@Module({})
export class ClockModule {
  static forRoot(clock: Clock = new SystemClock()) {
    return {
      module: ClockModule,
      providers: [{ provide: Clock, useValue: clock }, ShutdownDeadline],
      exports: [Clock, ShutdownDeadline],
    };
  }
}
