// fastify's `schemaController` option for apps that declare no route schemas (the registry and the token
// issuer validate with zod and write their own bodies). Without it fastify requires ajv and
// fast-json-stringify when the app is built: ~250 modules and ~5 MiB of resident memory in every registry
// pod for compilers that are never called (bench/README.md, "Start-up memory").
import type { FastifyServerOptions } from 'fastify';

function refuse(): never {
  throw new Error('route schemas are not supported: validate with zod in the handler');
}

export const noSchemaCompilers: NonNullable<FastifyServerOptions['schemaController']> = {
  compilersFactory: { buildValidator: refuse, buildSerializer: refuse },
};
