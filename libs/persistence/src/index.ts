export * from './store';
export * from './persistence.module';
export * from './sqlite/sqlite-store';
export * from './mongo/mongo-store';
export * from './mongo/schema-types';
export * from './mongo/mongo-errors';
export * from './database.config';
export * from './sqlite/limited-statement';
