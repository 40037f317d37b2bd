/** `npm run docs:protocol`: rewrites docs/protocol.md from the relay's message catalog. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderProtocolDoc } from '@app/relay/protocol/protocol-doc';

writeFileSync(join(__dirname, '..', 'docs', 'protocol.md'), renderProtocolDoc());
process.stdout.write('docs/protocol.md written\n');
