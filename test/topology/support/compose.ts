import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..', '..');

/**
 * The `environment:` map of one service in docker-compose.yml. The file is a small, plain
 * YAML document; this reads the subset it uses (block maps of scalars) rather than pulling in
 * a YAML library, and throws when the shape is not the expected one.
 */
export function composeEnvironment(service: string, text = read('docker-compose.yml')): Env {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l === `  ${service}:`);
  if (start < 0) throw new Error(`docker-compose.yml has no service ${service}`);
  const env: Env = {};
  let inEnv = false;
  for (const line of lines.slice(start + 1)) {
    if (/^ {0,2}\S/.test(line)) break; // next service or top-level key
    if (/^ {4}environment:\s*$/.test(line)) {
      inEnv = true;
      continue;
    }
    if (!inEnv) continue;
    if (!/^ {6}\S/.test(line)) {
      if (line.trim() === '' || /^\s*#/.test(line)) continue;
      break;
    }
    if (/^\s*#/.test(line)) continue;
    const match = /^ {6}([A-Z0-9_]+):\s*(.*)$/.exec(line);
    if (!match) throw new Error(`unexpected line in ${service}.environment: ${line}`);
    env[match[1]] = unquote(match[2].trim());
  }
  if (Object.keys(env).length === 0) throw new Error(`${service} has no environment map`);
  return env;
}

/**
 * A dotenv file as compose reads it (compose-go's dotenv parser, for the lines these files
 * hold): KEY=value lines, comments skipped; a value in single quotes literal, up to the closing
 * quote; an unquoted one literal up to a `#`. (A double-quoted one would have its `\n` turned
 * into newlines: scripts/init-env.sh and keys:rotate write none; refused here.)
 */
export function parseDotenv(text: string): Env {
  const env: Env = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!match) continue;
    const value = match[2];
    if (value.startsWith('"')) throw new Error(`${match[1]}: double-quoted value`);
    if (value.startsWith("'")) {
      const end = value.indexOf("'", 1);
      if (end < 0) throw new Error(`${match[1]}: unterminated quoted value`);
      env[match[1]] = value.slice(1, end);
    } else env[match[1]] = value.split('#')[0].trim();
  }
  return env;
}

/**
 * `.env` made the way the README tells an operator to: `scripts/init-env.sh`, which copies
 * .env.example and generates every secret it leaves empty.
 */
export function initEnv(dir: string): Env {
  const file = join(dir, 'init.env');
  execFileSync(join(ROOT, 'scripts', 'init-env.sh'), [file], { encoding: 'utf8' });
  const env = parseDotenv(readFileSync(file, 'utf8'));
  const empty = Object.keys(env).filter((name) => env[name] === '');
  if (empty.length > 0) throw new Error(`init-env.sh left ${empty.join(', ')} empty`);
  return env;
}

/** Compose's `${VAR:-default}` / `${VAR}` interpolation, from the .env values. */
export function interpolate(value: string, dotenv: Env): string {
  return value.replace(
    /\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g,
    (_, name: string, fallback?: string) => {
      const given = dotenv[name];
      return given !== undefined && given !== '' ? given : (fallback ?? '');
    },
  );
}

/** `deploy.replicas` of a service (1 when compose does not say). */
export function composeReplicas(service: string, text = read('docker-compose.yml')): number {
  const block = text.split(/^ {2}(?=\S)/m).find((part) => part.startsWith(`${service}:`));
  if (!block) throw new Error(`docker-compose.yml has no service ${service}`);
  const match = /^ {4}deploy:\s*\n {6}replicas:\s*(\d+)\s*$/m.exec(block);
  return match ? Number(match[1]) : 1;
}

// js-yaml comes with @nestjs/swagger (it writes YAML specs); its typings are not installed
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = require('js-yaml') as { load: (text: string) => unknown };

/** A service of docker-compose.yml as compose reads it (the keys these tests look at). */
export interface ComposeService {
  image?: string;
  restart?: string;
  environment?: Record<string, string>;
  healthcheck?: { test: string[]; interval?: string; timeout?: string; start_period?: string };
  depends_on?: Record<string, { condition: string }> | string[];
  networks?: Record<string, { ipv4_address?: string } | null>;
  /** short syntax, `<volume or host path>:<container path>[:ro]` */
  volumes?: string[];
}

/** A network of docker-compose.yml (the keys these tests look at). */
export interface ComposeNetwork {
  ipam?: { config?: { subnet?: string; ip_range?: string; gateway?: string }[] };
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  networks?: Record<string, ComposeNetwork>;
  volumes?: Record<string, unknown>;
}

/** docker-compose.yml parsed as YAML (js-yaml), for its structure; values are not interpolated. */
export function composeDocument(text = read('docker-compose.yml')): ComposeFile {
  return yaml.load(text) as ComposeFile;
}

/** The Dockerfile's runtime command (`CMD ["node", "dist/…/main.js"]`). */
export function dockerfileCommand(): string[] {
  const match = /^CMD\s+(\[.*\])\s*$/m.exec(read('Dockerfile'));
  if (!match) throw new Error('the Dockerfile has no exec-form CMD');
  return JSON.parse(match[1]) as string[];
}

export function read(file: string): string {
  return readFileSync(join(ROOT, file), 'utf8');
}

export type Env = Record<string, string>;

function unquote(value: string): string {
  const quoted = /^"(.*)"$/.exec(value) ?? /^'(.*)'$/.exec(value);
  return quoted ? quoted[1] : value;
}
