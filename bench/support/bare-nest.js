/**
 * Baseline for the HTTP and startup benchmarks: a bare Nest app (express, default logger,
 * no modules, no guards or pipes) with one small JSON route and a /health route. Plain
 * JavaScript so it starts exactly as a compiled app does. Prints `READY <port>`.
 */
require('reflect-metadata');
const { Controller, Get, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');

class HelloController {
  hello() {
    return [{ deviceId: 'K-1', status: 'active', createdAt: new Date(0).toISOString() }];
  }
  health() {
    return { status: 'ok' };
  }
}
const describe = (name) => Object.getOwnPropertyDescriptor(HelloController.prototype, name);
Get('hello')(HelloController.prototype, 'hello', describe('hello'));
Get('health')(HelloController.prototype, 'health', describe('health'));
Controller()(HelloController);

class BareModule {}
Module({ controllers: [HelloController] })(BareModule);

async function main() {
  const app = await NestFactory.create(BareModule);
  app.enableShutdownHooks();
  await app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
  process.stdout.write(`READY ${app.getHttpServer().address().port}\n`);
}

void main();
