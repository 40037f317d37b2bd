import { INestApplication } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import type { OpenAPIObject } from '@nestjs/swagger';
import { ERROR_CATALOGS, ERROR_STATUS } from './errors/error-status';

/**
 * The module whose check answers for a credential scheme: a code its own module does not
 * declare (a guard's refusal) means what the credential's module says of it.
 */
const SCHEME_MODULES: Readonly<Record<string, string>> = {
  'thekedar-signature': 'device-trust',
  'offline-token': 'offline-sync',
  'session-token': 'session',
};

/** An error answer's line for one code, as `documentAccess` writes it: "- `code`: meaning". */
const CODE_LINE = /^- `([a-z][a-z0-9_]*)`: (.*)$/;

/**
 * A code several modules declare (`device_blocked`: a kiosk, a worker's phone…) means, on an
 * operation, what the operation's own module says of it: each error answer's "- `code`:
 * meaning" line is given the meaning from the catalog of the module whose controller serves
 * the operation (libs/<module>: its Nest module `<Name>Module`), when that catalog answers the
 * code with that status, else from the catalog of the module that checks one of the
 * operation's credentials (a thekedar's signature: device-trust). Other lines stay as
 * `documentAccess` wrote them (the first catalog that answers so).
 */
export function documentOwnMeanings(document: OpenAPIObject, app: INestApplication): void {
  const moduleOf = new Map<string, string>();
  for (const module of app.get(ModulesContainer).values()) {
    const name = kebab(module.metatype.name.replace(/Module$/, ''));
    for (const wrapper of module.controllers.values()) {
      if (wrapper.metatype) moduleOf.set(wrapper.metatype.name, name);
    }
  }
  for (const item of Object.values(document.paths)) {
    for (const op of Object.values(item as Record<string, unknown>)) {
      if (!op || typeof op !== 'object') continue;
      const { operationId, responses, security } = op as {
        operationId?: string;
        responses?: Record<string, { description?: string }>;
        security?: Record<string, unknown>[];
      };
      const schemes = (security ?? []).flatMap((s) => Object.keys(s));
      const catalogs = [
        moduleOf.get(operationId?.split('_')[0] ?? ''),
        ...schemes.map((scheme) => SCHEME_MODULES[scheme]),
      ]
        .map(ownCatalog)
        .filter((c) => c !== undefined);
      if (catalogs.length === 0 || !responses) continue;
      for (const [status, response] of Object.entries(responses)) {
        if (!response.description) continue;
        response.description = response.description
          .split('\n')
          .map((line) => {
            const match = CODE_LINE.exec(line);
            if (!match) return line;
            const own = catalogs.find((c) => c.statuses[match[1]] === Number(status));
            return own ? `- \`${match[1]}\`: ${own.codes[match[1]]}` : line;
          })
          .join('\n');
      }
    }
  }
}

function ownCatalog(
  module: string | undefined,
): { codes: Record<string, string>; statuses: Record<string, number> } | undefined {
  const catalog = ERROR_CATALOGS.find((c) => c.module === module);
  if (!catalog) return undefined;
  return {
    codes: catalog.codes,
    statuses: ERROR_STATUS[catalog.module],
  };
}

function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}
