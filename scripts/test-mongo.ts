/**
 * `npm run test:mongo`: every store contract suite and the whole e2e suite on MongoDB.
 * With MONGODB_URI set (a real mongod) it runs against it; otherwise it starts the MongoDB
 * wire-protocol test server (test/mongo-server/server.py) on a free port and stops it after.
 * Extra arguments go to jest (e.g. a path pattern).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  mongoTestServerAvailable,
  MongoTestServer,
  startMongoTestServer,
} from '../test/support/mongo-test-server';

async function main(): Promise<number> {
  let server: MongoTestServer | undefined;
  let uri = process.env.MONGODB_URI;
  if (!uri) {
    if (!mongoTestServerAvailable()) {
      process.stderr.write(
        'test:mongo needs MONGODB_URI (a real mongod) or the MongoDB test server: ' +
          'apt-get install python3-mongomock python3-pymongo (for /usr/bin/python3)\n',
      );
      return 1;
    }
    server = await startMongoTestServer();
    uri = server.uri;
    process.stdout.write(`MongoDB test server (mongomock) at ${uri}\n`);
  } else {
    process.stdout.write(`MongoDB at MONGODB_URI\n`);
  }
  try {
    const jest = require.resolve('jest/bin/jest');
    // the extra arguments first: --selectProjects takes every word after it as a project name
    const args = [jest, ...process.argv.slice(2), '--selectProjects', 'contract', 'e2e'];
    const child = spawn(process.execPath, args, {
      cwd: join(__dirname, '..'),
      env: { ...process.env, MONGODB_URI: uri },
      stdio: 'inherit',
    });
    return await new Promise<number>((resolve) =>
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))),
    );
  } finally {
    await server?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`test:mongo failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
