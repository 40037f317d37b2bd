/**
 * Baseline for the vault CPU benchmark: bare node:http + AES-256-GCM + disk. POST /files
 * streams the body through one GCM cipher into a file (temp name, renamed when complete);
 * GET /files/<id> streams the file back through the decipher. No auth, audit, metadata,
 * chunking or hashing. Prints `READY <port>`.
 */
const { createCipheriv, createDecipheriv, randomBytes } = require('node:crypto');
const { createReadStream, createWriteStream, mkdtempSync, renameSync, rmSync } = require('node:fs');
const { createServer } = require('node:http');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { pipeline } = require('node:stream/promises');

const dir = mkdtempSync(join(tmpdir(), 'mdai-bare-vault-'));
const files = new Map();

const server = createServer(async (req, res) => {
  try {
    if (req.method === 'POST' && req.url === '/files') {
      const id = randomBytes(12).toString('hex');
      const key = randomBytes(32);
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const path = join(dir, `${id}.bin`);
      await pipeline(req, cipher, createWriteStream(`${path}.partial`));
      renameSync(`${path}.partial`, path);
      files.set(id, { key, iv, tag: cipher.getAuthTag() });
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ fileId: id }));
      return;
    }
    const file = req.method === 'GET' && files.get(req.url.slice('/files/'.length));
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    const decipher = createDecipheriv('aes-256-gcm', file.key, file.iv);
    decipher.setAuthTag(file.tag);
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const path = join(dir, `${req.url.slice('/files/'.length)}.bin`);
    // read a few chunks at a time, as the API does
    await pipeline(createReadStream(path, { highWaterMark: 256 * 1024 }), decipher, res);
  } catch {
    res.destroy();
  }
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port}\n`));
process.on('SIGTERM', () => {
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
});
