/** The one way the console talks to the server: the documented REST API, with the pasted key. */

export interface FieldError {
  field: string;
  message: string;
}

/** An API error as the server reports it: `{ statusCode, code, message, correlationId, errors? }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly correlationId?: string,
    readonly errors?: FieldError[],
  ) {
    super(message);
  }
}

export interface ApiResponse<T> {
  data: T;
  headers: Headers;
}

type Query = Record<string, string | number | undefined>;

export class Api {
  constructor(private readonly key: string) {}

  async get<T>(path: string, query: Query = {}): Promise<ApiResponse<T>> {
    return this.json<T>('GET', withQuery(path, query));
  }

  async post<T>(path: string, body: unknown): Promise<ApiResponse<T>> {
    return this.json<T>('POST', path, body);
  }

  async patch<T>(path: string, body: unknown): Promise<ApiResponse<T>> {
    return this.json<T>('PATCH', path, body);
  }

  /** A binary or text body (QR images, ledger exports). */
  async blob(path: string): Promise<Blob> {
    const response = await this.send('GET', path);
    return response.blob();
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const response = await this.send(method, path, body);
    const text = await response.text();
    return { data: (text ? JSON.parse(text) : undefined) as T, headers: response.headers };
  }

  private async send(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { 'x-api-key': this.key, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch {
      throw new ApiError(0, 'network_error', 'The server could not be reached');
    }
    if (!response.ok) throw await toApiError(response);
    return response;
  }
}

async function toApiError(response: Response): Promise<ApiError> {
  const headerId = response.headers.get('x-correlation-id') ?? undefined;
  try {
    const body = (await response.json()) as Partial<{
      code: string;
      message: string;
      correlationId: string;
      errors: FieldError[];
    }>;
    return new ApiError(
      response.status,
      body.code ?? `http_${response.status}`,
      body.message ?? response.statusText,
      body.correlationId ?? headerId,
      body.errors,
    );
  } catch {
    return new ApiError(response.status, `http_${response.status}`, response.statusText, headerId);
  }
}

export function withQuery(path: string, query: Query): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}
