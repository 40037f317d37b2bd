import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { encryptBlob } from '@app/vault/domain/vault-blob-format';
const MIB = 1 << 20;
async function* pieces(d: Buffer) { for (let i = 0; i < d.length; i += 65536) yield d.subarray(i, i + 65536); }
async function main() {
  const data = randomBytes(64 * MIB); const key = randomBytes(32); const id = randomBytes(12).toString('hex');
  for (let r = 0; r < 4; r++) {
    let c = process.cpuUsage(); let n = 0;
    for await (const out of encryptBlob(pieces(data), key, id)) n += out.length;
    const enc = (process.cpuUsage(c).user + process.cpuUsage(c).system) / 1000 / 64;
    c = process.cpuUsage();
    for (const chunk of [1 << 20]) { const h = createHash('sha256'); for (let i = 0; i < data.length; i += 65536) h.update(data.subarray(i, i + 65536)); h.digest(); }
    const sha = (process.cpuUsage(c).user + process.cpuUsage(c).system) / 1000 / 64;
    c = process.cpuUsage();
    const ci = createCipheriv('aes-256-gcm', key, randomBytes(12)); for await (const p of pieces(data)) ci.update(p); ci.final();
    const gcm = (process.cpuUsage(c).user + process.cpuUsage(c).system) / 1000 / 64;
    console.log({ encryptBlob: enc.toFixed(3), sha256: sha.toFixed(3), rawGcm: gcm.toFixed(3) });
  }
}
void main();
