import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import sqliteTransactionMode from './scripts/eslint/sqlite-transaction-mode.js';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/unbound-method': 'off',
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'class-validator',
              allowTypeImports: true,
              message:
                "Import validators from '@app/common' (libs/common/src/validation/validators.ts): class-validator's index loads ~270 modules at boot.",
            },
            {
              name: '@app/common',
              importNames: ['IsOptional'],
              message:
                'Use @IsOmittable() (libs/common/src/validation/omittable.ts): @IsOptional lets null through every check, to a service that takes it for a value (500s); @IsOmittable refuses null with a 400 naming the field.',
            },
            {
              name: 'prom-client',
              allowTypeImports: true,
              message:
                "Import metric classes from '@app/common' (libs/common/src/http/prometheus.ts): prom-client's index loads @opentelemetry/api at boot.",
            },
            {
              name: '@nestjs/swagger',
              allowTypeImports: true,
              message:
                "Import OpenAPI decorators from '@app/common' (libs/common/src/http/openapi-decorators.ts): @nestjs/swagger loads ~110 modules and all of lodash, and is loaded only to build the document.",
            },
            {
              name: 'class-transformer',
              allowTypeImports: true,
              message:
                "Import Type, Transform and plainToInstance from '@app/common' (libs/common/src/validation/transformers.ts): class-transformer's index loads ~20 modules more at boot.",
            },
            {
              name: '@nestjs/config',
              allowTypeImports: true,
              message:
                "Inject a namespace's settings with @Inject(xConfig.KEY) (apps/api/src/config/app-config.ts): @nestjs/config's index loads ConfigService and ~64 lodash files at boot.",
            },
            {
              name: '@nestjs/jwt',
              allowTypeImports: true,
              message:
                'Session tokens go through SessionTokenService, which loads @nestjs/jwt (~85 modules with jsonwebtoken) at the first token, not at boot.',
            },
          ],
        },
      ],
    },
  },
  {
    // a SQLite transaction that writes begins IMMEDIATE; one that only reads: readTransaction
    // (the rule's file says why). The server's code and the scripts run on a live store; specs,
    // test/ and bench/ set up their own files and contention on purpose.
    files: ['apps/api/**/*.ts', 'libs/**/*.ts', 'scripts/**/*.ts'],
    ignores: ['**/*.spec.ts', '**/*.contract-spec.ts'],
    plugins: { mdai: { rules: { 'sqlite-transaction-mode': sqliteTransactionMode } } },
    rules: { 'mdai/sqlite-transaction-mode': 'error' },
  },
  {
    // the one place class-validator is loaded, file by file
    files: ['libs/common/src/validation/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // their specs compare these with the packages' own exports
    files: [
      'libs/common/src/http/openapi-decorators.spec.ts',
      'libs/common/src/http/prometheus.spec.ts',
      'libs/common/src/validation/transformers.spec.ts',
      'apps/api/src/config/config-module.spec.ts',
    ],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // The console runs in a browser: its own tsconfig (DOM types).
    files: ['apps/console/**/*.ts'],
    languageOptions: {
      parserOptions: {
        projectService: false,
        project: './apps/console/tsconfig.json',
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },
  {
    files: [
      '**/*.spec.ts',
      '**/*.contract-spec.ts',
      'test/**/*.ts',
      'bench/**/*.ts',
      'scripts/**/*.ts',
    ],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
