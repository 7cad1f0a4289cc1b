// Import rules (STYLE 2.2a/2.3), checked by `npm run depcheck` in `npm run check` and CI.
// Type-only imports count: a layer that needs another's types depends on it.
const LEAVES = '^(src/(config|errors|log)\\.ts|src/schemas/|workers/protocol\\.ts)$'

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'The import graph has no cycles, type-only imports included.',
      from: {},
      to: { circular: true }
    },
    {
      name: 'http-from-above-only',
      severity: 'error',
      comment: 'Nothing below src/http/ imports it: services get plain values (an AbortSignal, a MediaExchange). ' +
        'Only the composition roots (app.ts, worker.ts) and what tests run on (src/testing/, src/e2e/, *.test.ts) assemble servers.',
      from: { path: '^src/', pathNot: ['^src/http/', '^src/app\\.ts$', '^src/worker\\.ts$', '^src/testing/', '^src/e2e/', '\\.test\\.ts$'] },
      to: { path: '^src/http/' }
    },
    {
      name: 'workers-stand-alone',
      severity: 'error',
      comment: 'Thread code (tests included) imports only workers/ and node: built-ins; never src/.',
      from: { path: '^workers/' },
      to: { pathNot: '^workers/', dependencyTypesNot: ['core'] }
    },
    {
      name: 'leaves-stay-leaves',
      severity: 'error',
      comment: 'config, errors, log, schemas/ and workers/protocol import only node:, npm packages and each other.',
      from: { path: LEAVES.replace('$', '') },
      to: { pathNot: LEAVES.replace('$', ''), dependencyTypesNot: ['core', 'npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg', 'npm-unknown'] }
    },
    {
      name: 'media-over-proxy',
      severity: 'error',
      comment: 'media/ builds on the byte proxy; proxy/ knows nothing of media/.',
      from: { path: '^src/proxy/' },
      to: { path: '^src/media/' }
    },
    {
      name: 'platforms-on-leaves',
      severity: 'error',
      comment: 'A platform file needs only its siblings and the leaves (adding one touches nothing else).',
      from: { path: '^src/platforms/', pathNot: '\\.test\\.ts$' },
      to: { pathNot: ['^src/platforms/', LEAVES], dependencyTypesNot: ['core', 'npm'] }
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'Every relative import resolves to a file.',
      from: {},
      to: { couldNotResolve: true }
    }
  ],
  options: {
    includeOnly: '^(src|workers|bench|scripts)/',
    exclude: { path: '(^|/)(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
    reporterOptions: { text: { highlightFocused: true } }
  }
}
