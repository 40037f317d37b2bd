// Preloaded (`node -r`) by test/topology/bundle.topology-spec.ts into the built API: once the
// first `/health` answer is sent, it prints the files in the module cache (`MODULES [...]`).
// Nothing else: the app's requests and answers are untouched.
const http = require('node:http');

const emit = http.Server.prototype.emit;
let printed = false;
http.Server.prototype.emit = function (event, req, res) {
  if (!printed && event === 'request' && req.url === '/health') {
    printed = true;
    res.once('finish', () => {
      process.stdout.write(`MODULES ${JSON.stringify(Object.keys(require.cache))}\n`);
    });
  }
  return emit.apply(this, arguments);
};
