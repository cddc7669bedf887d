import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

function boundaries(extra) {
  return [
    'error',
    {
      enforceBuildableLibDependency: false,
      allow: [],
      depConstraints: [
        // Apps are thin wiring over libs; they never import each other.
        { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:domain', 'type:adapter', 'type:platform', ...extra] },
        // Adapters translate between the domain and one external system.
        { sourceTag: 'type:adapter', onlyDependOnLibsWithTags: ['type:domain', 'type:platform', ...extra] },
        { sourceTag: 'type:platform', onlyDependOnLibsWithTags: [...extra] },
        // The domain is pure: it may build on other domain libs and nothing else.
        { sourceTag: 'type:domain', onlyDependOnLibsWithTags: ['type:domain'] },
        { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:domain', 'type:adapter', 'type:platform'] },
        { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:domain', 'type:adapter', 'type:platform', 'type:testing'] },
      ],
    },
  ];
}

export default [
  { ignores: ['**/dist', '**/node_modules', '**/.nx', '**/*.js', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@nx/enforce-module-boundaries': boundaries([]),
    },
  },
  {
    // Tests (and their support files) may also use the test kit that starts real servers.
    files: ['**/*.spec.ts', '**/it-support.ts'],
    rules: { '@nx/enforce-module-boundaries': boundaries(['type:testing']) },
  },
  {
    // The domain must stay IO-free: no network, file system or process access.
    files: ['libs/{contract,batch,entry,window,partial,rollup,log-files,dead-letters}/src/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:fs*', 'fs', 'node:net', 'net', 'node:http*', 'http', 'https', 'node:child_process', 'kafkajs', '@aws-sdk/*', '@clickhouse/*', '@nestjs/*'], message: 'Domain libs are pure: no IO or framework imports.' },
          ],
        },
      ],
    },
  },
];
