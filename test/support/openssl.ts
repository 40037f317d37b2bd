import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A kiosk whose key lives in files and whose crypto is done by the OpenSSL command line. */
export class OpensslKiosk {
  readonly dir = mkdtempSync(join(tmpdir(), 'mdai-openssl-'));
  readonly keyFile = join(this.dir, 'device.key');

  constructor(bits = 2048) {
    execFileSync(
      'openssl',
      ['genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${bits}`, '-out', this.keyFile],
      {
        stdio: 'ignore',
      },
    );
  }

  publicKeyPem(): string {
    return execFileSync('openssl', ['pkey', '-in', this.keyFile, '-pubout']).toString();
  }

  /** `openssl pkeyutl -decrypt` with RSA-OAEP SHA-256, exactly as a kiosk in the field does it. */
  decryptChallenge(challengeBase64: string): Buffer {
    const input = join(this.dir, 'challenge.bin');
    writeFileSync(input, Buffer.from(challengeBase64, 'base64'));
    return execFileSync(
      'openssl',
      [
        'pkeyutl',
        '-decrypt',
        '-inkey',
        this.keyFile,
        '-in',
        input,
        '-pkeyopt',
        'rsa_padding_mode:oaep',
        '-pkeyopt',
        'rsa_oaep_md:sha256',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
  }

  /** RSASSA-PSS (SHA-256, salt 32) signature, base64. */
  signPss(message: string | Buffer): string {
    const input = join(this.dir, 'message.bin');
    const output = join(this.dir, 'signature.bin');
    writeFileSync(input, message, 'utf8');
    execFileSync('openssl', [
      'dgst',
      '-sha256',
      '-sign',
      this.keyFile,
      '-sigopt',
      'rsa_padding_mode:pss',
      '-sigopt',
      'rsa_pss_saltlen:32',
      '-out',
      output,
      input,
    ]);
    return readFileSync(output).toString('base64');
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
