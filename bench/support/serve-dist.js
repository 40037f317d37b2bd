/**
 * Bench child: the built API (`dist/.../main.js`, what `npm start` runs: the esbuild bundle, no
 * TypeScript hook) on a free port of 127.0.0.1; prints `READY <port>` once `/health` answers
 * 200. Run with plain `node` (`BenchChild.startPlain`): the swc hook the other children load
 * would add its compiler's heap to the server's.
 */
const { createServer } = require('node:net');
const { request } = require('node:http');
const { join } = require('node:path');

const main = join(__dirname, '..', '..', 'dist/apps/api/apps/api/src/main.js');

function health(port) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/health', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

const probe = createServer().listen(0, '127.0.0.1', () => {
  const { port } = probe.address();
  probe.close(async () => {
    process.env.PORT = String(port);
    process.env.HOST = '127.0.0.1';
    require(main);
    while (!(await health(port))) await new Promise((resolve) => setTimeout(resolve, 50));
    process.stdout.write(`READY ${port}\n`);
  });
});
