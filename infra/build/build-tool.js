// Bundles one operator tool into dist/tools/<tool>/main.js (see bundle.js). Quiet on success, so
// `npm run <tool>` prints only what the tool prints.
const path = require('node:path');
const { bundle, root } = require('./bundle');

const tool = process.argv[2];
if (!tool) {
  console.error('usage: node infra/build/build-tool.js <tool>');
  process.exit(2);
}

bundle(path.join(root, 'tools', tool, 'src', 'main.ts'), path.join(root, 'dist', 'tools', tool, 'main.js')).catch((err) => {
  if (!Array.isArray(err?.errors)) console.error(err);
  process.exit(1);
});
