/**
 * The second half of `npm run build:api` (after `nest build api`): bundles the compiled API
 * (tsc's CommonJS output in dist/apps/api) into one file per entry point with esbuild, every
 * node_modules package left as a `require` of its own. Node then loads ~290 fewer files at
 * boot (each one a resolution, a read and a compilation), which is most of what our own code
 * cost at startup (docs/benchmarks.md, "bootfast2").
 *
 * What it writes, in place of tsc's tree (dist/apps/api is replaced):
 *   dist/apps/api/apps/api/src/main.js                what every start command, the Dockerfile
 *                                                     and the benches run: it runs api.js
 *                                                     (scripts/support/api-main.js says how)
 *   dist/apps/api/apps/api/src/api.js                 the API bundle
 *   dist/apps/api/apps/api/src/packet-check.worker.js the packet-check pool's worker thread,
 *                                                     next to main.js, where the pool looks
 *                                                     for it (`join(__dirname, …)`)
 *   dist/apps/api/apps/api/src/sqlite-append.worker.js the ledger's append thread, likewise
 *   dist/apps/api/apps/api/src/sqlite-checkpoint.worker.js  the SQLite checkpoint thread,
 *                                                     found the same way
 *   dist/apps/api/apps/api/src/admin.js               the operator's commands (keys:rotate,
 *                                                     keys:reseal, timesheets:rebuild,
 *                                                     verify:log), runnable in the image
 *   and a source map beside each, chained through tsc's maps to the TypeScript sources:
 *   `node --enable-source-maps` puts libs/…/*.ts lines in stack traces.
 *
 * The bundle is esbuild's CommonJS output of CommonJS input: each of our files stays a
 * function of its own, run on its first `require` as before, so what tsc emitted (decorator
 * metadata, class names, the order modules run in) is unchanged; the lazy `import()`s of the
 * MongoDB repositories stay lazy (their modules, and `mongoose`, load on first use).
 *
 *   node -r @swc-node/register scripts/bundle-api.ts
 */
import { build, Metafile } from 'esbuild';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');
/** tsc's output (`apps/api/tsconfig.app.json` outDir), replaced by the bundle. */
export const API_DIST = join(ROOT, 'dist/apps/api');
/** Where the entry points go: main.js keeps the path it had before bundling. */
export const BUNDLE_DIR = join(API_DIST, 'apps/api/src');

/** Entry points: the output name (in BUNDLE_DIR) and tsc's file it is built from. */
export const ENTRIES = {
  api: 'apps/api/src/main.js',
  'packet-check.worker': 'libs/offline-sync/src/packet-check.worker.js',
  'sqlite-append.worker':
    'libs/offline-sync/src/infrastructure/persistence/sqlite/sqlite-append.worker.js',
  'sqlite-checkpoint.worker': 'libs/persistence/src/sqlite/sqlite-checkpoint.worker.js',
  admin: 'apps/api/src/admin/admin-main.js',
} as const;

export async function bundleApi(): Promise<Metafile> {
  for (const file of Object.values(ENTRIES)) {
    if (!existsSync(join(API_DIST, file))) {
      throw new Error(
        `${relative(ROOT, join(API_DIST, file))} is missing: run nest build api first`,
      );
    }
  }
  const result = await build({
    entryPoints: Object.entries(ENTRIES).map(([out, file]) => ({
      in: join(API_DIST, file),
      out,
    })),
    outdir: BUNDLE_DIR,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // every package is a runtime `require` from node_modules, as before
    packages: 'external',
    // chained through tsc's .js.map files to the .ts sources (no sources inside: the image
    // ships without them, and file:line is what a stack trace needs)
    sourcemap: 'linked',
    sourcesContent: false,
    minify: false,
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
    // written below, once tsc's tree is gone
    write: false,
  });
  rmSync(API_DIST, { recursive: true, force: true });
  for (const file of result.outputFiles) {
    mkdirSync(dirname(file.path), { recursive: true });
    writeFileSync(
      file.path,
      file.path.endsWith('.map') ? tsSources(file.path, file.text) : file.contents,
    );
  }
  // main.js: the entry every start command runs, which runs api.js (see its comment), with
  // the resolve cache it requires inlined (one file of ours besides api.js)
  await build({
    entryPoints: [join(ROOT, 'scripts/support/api-main.js')],
    outfile: join(BUNDLE_DIR, 'main.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    packages: 'external',
    minify: false,
    legalComments: 'none',
    logLevel: 'warning',
  });
  return result.metafile;
}

/**
 * A file of types only compiles to two lines with an empty map, so esbuild names tsc's .js
 * (gone once the bundle replaces it) as their source: name the .ts instead.
 */
function tsSources(mapFile: string, text: string): string {
  const map = JSON.parse(text) as { sources: string[] };
  map.sources = map.sources.map((source) => {
    const path = resolve(dirname(mapFile), source);
    if (!path.startsWith(`${API_DIST}/`) || !path.endsWith('.js')) return source;
    const ts = join(ROOT, relative(API_DIST, path)).replace(/\.js$/, '.ts');
    return existsSync(ts) ? relative(dirname(mapFile), ts) : source;
  });
  return JSON.stringify(map);
}

if (require.main === module) {
  bundleApi()
    .then((meta) => {
      const inputs = Object.keys(meta.inputs).filter((f) => !f.endsWith('.map')).length;
      process.stdout.write(
        `api bundled into ${relative(ROOT, BUNDLE_DIR)} (${inputs} compiled files)\n`,
      );
    })
    .catch((error: unknown) => {
      process.stderr.write(`api bundle failed: ${String(error)}\n`);
      process.exit(1);
    });
}
