// ESLint: neostandard with TypeScript, as fastify, pino, undici and piscina
// use (../shared/STYLE.md). It lives in scripts/ because the top level is
// fixed; `npm run lint` passes it with --config from the repository root,
// and ESLint 9 resolves the ignore globs below from there.
import neostandard from 'neostandard'

export default [
  { ignores: ['dist/**', 'node_modules/**', '.tools/**', 'downloads/**', 'coverage/**'] },
  ...neostandard({ ts: true }),
  {
    rules: {
      // Sanitizers and the strict playlist lexer match control characters on purpose.
      'no-control-regex': 'off',
      // `void promise` marks a promise whose outcome its own handlers deal with.
      'no-void': ['error', { allowAsStatement: true }]
    }
  }
]
