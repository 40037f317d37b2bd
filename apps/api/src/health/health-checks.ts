import { Injectable, OnModuleDestroy } from '@nestjs/common';

/**
 * The few pieces of `@nestjs/terminus` that `/health` used, in its exact shapes: a check
 * answers `{ [key]: { status: 'up' | 'down', ...details } }`; the report is
 * `{ status, info, error, details }` with `info` the up checks, `error` the down ones and
 * `details` both, in the order the checks were given. Terminus itself loads 49 modules
 * (with `boxen` and `chalk` for console output we turn off) for these few lines.
 */
export type HealthStatus = 'up' | 'down';
export type HealthDetails = Record<string, unknown>;
export type HealthIndicatorResult = Record<string, HealthDetails & { status: HealthStatus }>;

export interface HealthReport {
  status: 'ok' | 'error' | 'shutting_down';
  info: HealthIndicatorResult;
  error: HealthIndicatorResult;
  details: HealthIndicatorResult;
}

/** The result of one check named `key`, up or down with its details. */
export function indicator(key: string) {
  const result = (status: HealthStatus, details: HealthDetails): HealthIndicatorResult => {
    if ('status' in details) throw new Error('"status" is a reserved key in health details');
    return { [key]: { ...details, status } };
  };
  return {
    up: (details: HealthDetails = {}) => result('up', details),
    down: (details: HealthDetails = {}) => result('down', details),
  };
}

/**
 * Runs checks together; the report is `shutting_down` once the app has begun to close (from
 * the close's first hook, with the drain: the requests in flight answer so).
 */
@Injectable()
export class HealthChecks implements OnModuleDestroy {
  private shuttingDown = false;

  onModuleDestroy(): void {
    this.shuttingDown = true;
  }

  /** A check that throws is a bug, not a down dependency: the error propagates (500). */
  async run(checks: Array<() => Promise<HealthIndicatorResult>>): Promise<HealthReport> {
    const results = await Promise.all(checks.map((check) => check()));
    const report: HealthReport = { status: 'ok', info: {}, error: {}, details: {} };
    for (const [key, value] of results.flatMap((result) => Object.entries(result))) {
      if (value.status === 'up') report.info[key] = value;
      else report.error[key] = value;
    }
    Object.assign(report.details, report.info, report.error);
    if (Object.keys(report.error).length > 0) report.status = 'error';
    if (this.shuttingDown) report.status = 'shutting_down';
    return report;
  }
}

// What the OpenAPI document says of the report (terminus' schema, examples included).
const EXAMPLE_UP = { database: { status: 'up' } };
const EXAMPLE_DOWN = { redis: { status: 'down', message: 'Could not connect' } };

function resultSchema(example: object) {
  return {
    type: 'object',
    example,
    additionalProperties: {
      type: 'object',
      required: ['status'],
      properties: { status: { type: 'string' } },
      additionalProperties: true,
    },
  };
}

const ADMIN_ONLY = 'Only with an admin x-api-key.';

/**
 * The OpenAPI schema of a report whose status is `ok` (200) or `error` (503): `status` for
 * everyone, the checks for an admin key.
 */
export function healthReportSchema(status: 'ok' | 'error') {
  return {
    type: 'object',
    required: ['status'],
    properties: {
      status: {
        type: 'string',
        enum: status === 'ok' ? ['ok'] : ['error', 'shutting_down'],
        example: status,
      },
      info: { ...resultSchema(EXAMPLE_UP), nullable: true, description: ADMIN_ONLY },
      error: {
        ...resultSchema(status === 'error' ? EXAMPLE_DOWN : {}),
        nullable: true,
        description: ADMIN_ONLY,
      },
      details: {
        ...resultSchema(status === 'error' ? { ...EXAMPLE_UP, ...EXAMPLE_DOWN } : EXAMPLE_UP),
        description: ADMIN_ONLY,
      },
    },
  };
}
