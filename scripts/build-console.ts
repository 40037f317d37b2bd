/**
 * Builds the operator console: bundles apps/console/src (TypeScript, the qrcode library) into
 * one app.js with esbuild and copies the static files next to it. `npm run build` writes to
 * dist/console, where the API serves it at /console; the browser tests build into a temp dir.
 *
 *   node -r @swc-node/register scripts/build-console.ts [outDir]
 */
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');

export async function buildConsole(outDir = join(ROOT, 'dist', 'console')): Promise<string> {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [join(ROOT, 'apps/console/src/main.ts')],
    outfile: join(outDir, 'app.js'),
    bundle: true,
    minify: true,
    sourcemap: false,
    format: 'iife',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    legalComments: 'none',
    logLevel: 'warning',
  });
  const staticDir = join(ROOT, 'apps/console/static');
  for (const name of readdirSync(staticDir))
    copyFileSync(join(staticDir, name), join(outDir, name));
  return outDir;
}

if (require.main === module) {
  buildConsole(process.argv[2] ? resolve(process.argv[2]) : undefined)
    .then((dir) => process.stdout.write(`console built into ${dir}\n`))
    .catch((error: unknown) => {
      process.stderr.write(`console build failed: ${String(error)}\n`);
      process.exit(1);
    });
}
