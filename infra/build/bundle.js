// The one esbuild setup of the workspace: TypeScript with the @pipeline/* aliases inlined, npm
// packages left external (they come from node_modules at run time), CommonJS for Node 24.
// esbuild does not emit decorator metadata, so Nest constructor parameters use explicit @Inject.
const path = require('node:path');
const esbuild = require('esbuild');
const { compilerOptions } = require('../../tsconfig.base.json');

const root = path.resolve(__dirname, '../..');
const alias = Object.fromEntries(
  Object.entries(compilerOptions.paths).map(([name, [target]]) => [name, path.join(root, target)]),
);

function bundle(entry, outfile) {
  return esbuild.build({
    entryPoints: [entry],
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
  });
}

module.exports = { bundle, root };
