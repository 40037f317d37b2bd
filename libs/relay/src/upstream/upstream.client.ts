import { HttpService } from '@nestjs/axios';
import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AxiosError } from 'axios';
import { firstValueFrom } from 'rxjs';
import { AppConfig } from '@app/common';

export type UpstreamOutcome =
  | {
      kind: 'answered';
      status: 'success' | 'failure';
      statusCode: number;
      data: unknown;
      latencyMs: number;
    }
  | { kind: 'unavailable'; message: string; statusCode?: number; latencyMs: number };

const PATH = '/api/admin/hardware/next';
const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * The upstream identity API. One call per attempt with a timeout; network errors and 5xx are
 * retried (bounded, with backoff), never past the session deadline. A 2xx or 4xx is an answer:
 * `success` when 2xx and the body's `status` is absent or "success", else `failure`.
 */
@Injectable()
export class UpstreamClient {
  private readonly logger = new Logger(UpstreamClient.name);
  private readonly settings: AppConfig['upstream'];

  constructor(
    private readonly http: HttpService,
    config: ConfigService<AppConfig, true>,
  ) {
    this.settings = config.get('upstream', { infer: true });
  }

  get configured(): boolean {
    return this.settings.url !== undefined;
  }

  async submit(platformId: string, imageBase64: string, deadline: Date): Promise<UpstreamOutcome> {
    const started = Date.now();
    const latency = () => Date.now() - started;
    if (!this.settings.url) {
      return {
        kind: 'unavailable',
        message: 'The upstream identity API is not configured (UPSTREAM_URL)',
        latencyMs: 0,
      };
    }
    let last: UpstreamOutcome = {
      kind: 'unavailable',
      message: 'No attempt fitted before the session deadline',
      latencyMs: 0,
    };
    for (let attempt = 0; attempt <= this.settings.retries; attempt++) {
      const remaining = deadline.getTime() - Date.now() - 250;
      if (remaining < 200) break;
      const timeout = Math.min(this.settings.timeoutMs, remaining);
      try {
        const response = await firstValueFrom(
          this.http.post(
            `${this.settings.url}${PATH}`,
            { platform_id: platformId, image_base64: imageBase64 },
            {
              headers: {
                'x-api-key': this.settings.apiKey ?? '',
                'content-type': 'application/json',
              },
              timeout,
              maxContentLength: MAX_RESPONSE_BYTES,
              maxBodyLength: Infinity,
              validateStatus: () => true,
            },
          ),
        );
        const data: unknown = response.data;
        if (response.status >= 500) {
          last = {
            kind: 'unavailable',
            message: `The identity API answered ${response.status}`,
            statusCode: response.status,
            latencyMs: latency(),
          };
          this.logger.warn({ attempt, statusCode: response.status }, 'Upstream 5xx');
        } else {
          const bodyStatus = (data as { status?: unknown } | null)?.status;
          const success =
            response.status < 300 && (bodyStatus === undefined || bodyStatus === 'success');
          return {
            kind: 'answered',
            status: success ? 'success' : 'failure',
            statusCode: response.status,
            data,
            latencyMs: latency(),
          };
        }
      } catch (error) {
        const reason =
          (error as AxiosError).code === 'ECONNABORTED' ? 'timed out' : 'could not be reached';
        last = { kind: 'unavailable', message: `The identity API ${reason}`, latencyMs: latency() };
        this.logger.warn({ attempt, code: (error as AxiosError).code }, 'Upstream call failed');
      }
      if (attempt < this.settings.retries) {
        const backoff = Math.min(2000, 200 * 2 ** attempt);
        if (deadline.getTime() - Date.now() - backoff < 500) break;
        await new Promise((resolve) => setTimeout(resolve, backoff));
      }
    }
    return { ...last, latencyMs: latency() };
  }
}
