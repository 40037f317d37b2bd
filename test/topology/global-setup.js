// Builds dist/ once (`npm run build`, as the Dockerfile does) so the tier runs the code that
// ships. TOPOLOGY_SKIP_BUILD=1 reuses an existing dist/ (CI has just built it).
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { join } = require('node:path');

module.exports = function globalSetup() {
  const root = join(__dirname, '..', '..');
  if (process.env.TOPOLOGY_SKIP_BUILD === '1' && existsSync(join(root, 'dist'))) return;
  const built = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8' });
  if (built.status !== 0) {
    throw new Error(`npm run build failed:\n${built.stdout}\n${built.stderr}`);
  }
};
