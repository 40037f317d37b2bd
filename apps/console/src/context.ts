import { Api } from './api';
import { Role } from './types';

/** What a page gets: the API client, the key's roles, the route and a way to leave it. */
export interface PageContext {
  api: Api;
  roles: Role[];
  /** Path segments after the page id: `#/kiosks/TEE-1` → ['TEE-1']. */
  params: string[];
  query: URLSearchParams;
  main: HTMLElement;
  navigate: (hash: string) => void;
  /** Registers cleanup (timers, object URLs) run when the page is left. */
  onLeave: (dispose: () => void) => void;
  can: (...roles: Role[]) => boolean;
}

export interface Page {
  id: string;
  title: string;
  roles: Role[];
  render: (ctx: PageContext) => Promise<void> | void;
}

/** Keyset pager state: the keys of the pages seen so far, so "Previous" works too. */
export class KeysetPager {
  private readonly stack: Array<string | undefined> = [undefined];

  get current(): string | undefined {
    return this.stack[this.stack.length - 1];
  }

  get page(): number {
    return this.stack.length;
  }

  next(key: string): void {
    this.stack.push(key);
  }

  previous(): void {
    if (this.stack.length > 1) this.stack.pop();
  }

  reset(): void {
    this.stack.length = 1;
  }
}
