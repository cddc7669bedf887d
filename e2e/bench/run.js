// Bundles the benchmark (TypeScript, workspace aliases) with the same esbuild setup as the apps
// and runs it: `npm run bench` / `nx run e2e:bench`. Options are environment variables; see
// e2e/README.md.
const path = require('node:path');
const esbuild = require('esbuild');
const { compilerOptions } = require('../../tsconfig.base.json');

const root = path.resolve(__dirname, '../..');
const alias = Object.fromEntries(Object.entries(compilerOptions.paths).map(([name, [target]]) => [name, path.join(root, target)]));
// Three levels below the root, like the apps' sources, so that repository paths resolve the same.
const outfile = path.join(root, 'dist', 'e2e', 'bench', 'bench.js');

esbuild
  .build({
    entryPoints: [path.join(__dirname, 'bench.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    sourcemap: true,
    packages: 'external',
    alias,
    tsconfig: path.join(root, 'tsconfig.base.json'),
    logLevel: 'warning',
  })
  .then(() => require(outfile).main())
  .then(
    (code) => process.exit(code ?? 0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
