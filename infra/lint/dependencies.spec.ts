import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(__dirname, '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  scripts: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> };

/** Packages nothing names on purpose: what needs them is another package or the compiler. */
const NEEDED_WITHOUT_A_NAME: Record<string, string> = {
  rxjs: 'peer dependency of @nestjs/core and @nestjs/common',
  '@swc/core': 'peer dependency of @swc/jest, the transform of jest.config.js',
  '@types/jest': 'types of the test globals for the compiler',
  '@types/node': 'types of Node.js for the compiler',
  '@types/cli-progress': 'types of cli-progress (the send tool) for the compiler',
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (['node_modules', 'dist', '.nx', '.stack', '.git'].includes(name)) return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return /\.(ts|js|mjs)$/.test(name) || name === 'project.json' ? [path] : [];
  });
}

/** Every file that can name a package: sources, configs, build scripts, Nx project commands. */
const texts = ['apps', 'libs', 'tools', 'e2e', 'infra'].flatMap((d) => files(join(root, d))).concat(['eslint.config.mjs', 'jest.config.js'].map((f) => join(root, f)));
const corpus = texts.map((f) => ({ file: relative(root, f), text: readFileSync(f, 'utf8') }));
const scripts = Object.values(pkg.scripts).join('\n');

/** Packages whose binary has another name. */
const BINARY: Record<string, string> = { typescript: 'tsc' };

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe('dependencies', () => {
  it.each(Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }))('%s is used (imported, configured or run), or needed by name of another', (name) => {
    if (NEEDED_WITHOUT_A_NAME[name]) return expect(NEEDED_WITHOUT_A_NAME[name]).toBeTruthy();
    // An import or require of the package (or a subpath), or its name as a string in a config.
    const named = new RegExp(`['"\`]${escape(name)}(/[^'"\`]*)?['"\`]`);
    const usedBy = corpus.filter(({ text }) => named.test(text)).map((c) => c.file);
    // A binary run by a script or an Nx command.
    const command = new RegExp(`(^|[\\s"])${escape(BINARY[name] ?? name)}\\s`, 'm');
    const run = command.test(scripts) || corpus.some(({ file, text }) => file.endsWith('project.json') && command.test(text));
    expect([name, usedBy.length > 0 || run]).toEqual([name, true]);
  });

  it('are pinned to exact versions', () => {
    for (const [name, version] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) expect([name, version]).toEqual([name, expect.stringMatching(/^\d+\.\d+\.\d+$/)]);
  });

  it('hold one fastify, the one @nestjs/platform-fastify wants', () => {
    const versions = Object.entries(lock.packages).filter(([path]) => /(^|\/)node_modules\/fastify$/.test(path)).map(([, p]) => p.version);
    expect(versions).toEqual([pkg.dependencies.fastify]);
    const platform = lock.packages['node_modules/@nestjs/platform-fastify'] as { dependencies?: Record<string, string> };
    expect(platform.dependencies?.fastify).toBe(pkg.dependencies.fastify);
  });
});
