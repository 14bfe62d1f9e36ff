import tseslint from 'typescript-eslint'
import pluginVue from 'eslint-plugin-vue'
import importX from 'eslint-plugin-import-x'
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript'
import prettier from 'eslint-config-prettier/flat'

/**
 * The layers of main/, bottom to top, and what each may import (ARCHITECTURE.md draws the same picture). A layer
 * imports only the layers listed for it; everything else is an error that names the rule broken.
 */
const LAYERS = {
  'main/shared': [],
  'main/core': ['main/shared'],
  'main/store': ['main/shared', 'main/core'],
  'main/model': ['main/shared', 'main/core'],
  'main/data': ['main/shared', 'main/core', 'main/store'],
  'main/train': ['main/shared', 'main/core', 'main/store', 'main/model', 'main/data'],
  'main/export': ['main/shared', 'main/core', 'main/store', 'main/model', 'main/data'],
  'main/study': ['main/shared', 'main/core', 'main/store', 'main/model', 'main/data', 'main/train'],
  'main/api': ['main/shared', 'main/core', 'main/store', 'main/model', 'main/data', 'main/train', 'main/export', 'main/study'],
  'main/lab.ts': ['main/shared', 'main/core', 'main/store', 'main/model', 'main/data', 'main/train', 'main/export', 'main/study', 'main/api'],
  'main/hosts': ['main/shared', 'main/core', 'main/api', 'main/lab.ts'],
  'main/index.ts': ['main/hosts'],
  'main/cli.ts': ['main/hosts'],
  preload: ['main/shared'],
  renderer: ['main/shared']
}
const ALL = Object.keys(LAYERS)
const layerZones = Object.entries(LAYERS).map(([layer, allowed]) => ({
  target: `./${layer}`,
  from: ALL.filter((other) => other !== layer && !allowed.includes(other) && !other.startsWith(`${layer}/`)).map((other) => `./${other}`),
  message: `layer rule: ${layer} may import only ${allowed.length ? allowed.join(', ') : 'zod'} (ARCHITECTURE.md, "Layers")`
}))

export default tseslint.config(
  { ignores: ['out/**', 'node_modules/**', 'test-results/**', 'bench/results/**', '**/*.tmp.ts', 'scratch/**'] },
  ...tseslint.configs.recommended,
  ...pluginVue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser } }
  },
  {
    files: ['**/*.ts', '**/*.mts', '**/*.vue'],
    plugins: { 'import-x': importX },
    // When import-x follows an import into a .vue file it parses it with these options: vue-eslint-parser needs
    // the TypeScript parser for <script lang="ts">. (typescript-eslint's own parser ignores the key.)
    languageOptions: { parserOptions: { parser: tseslint.parser } },
    settings: {
      // import-x parses each imported module to follow the graph (no-cycle): it must know TypeScript and Vue files.
      'import-x/extensions': ['.ts', '.mts', '.vue', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.mts'], 'vue-eslint-parser': ['.vue'] },
      'import-x/resolver-next': [
        createTypeScriptImportResolver({ project: ['tsconfig.node.json', 'tsconfig.web.json'], noWarnOnMultipleProjects: true })
      ]
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            ...layerZones,
            {
              target: './renderer/src/components',
              from: './renderer/src/api',
              message: 'components reach the main side through a store, never the bridge (renderer/src/api/bridge.ts)'
            },
            {
              target: './renderer/src/views',
              from: './renderer/src/api',
              message: 'views reach the main side through a store, never the bridge (renderer/src/api/bridge.ts)'
            }
          ]
        }
      ]
    }
  },
  {
    // Type-aware rules: a promise nobody awaits loses its error (and, in a host, can kill the process).
    files: ['**/*.ts', '**/*.mts', '**/*.vue'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname, extraFileExtensions: ['.vue'] } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { attributes: false } }],
      '@typescript-eslint/await-thenable': 'error'
    }
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      // Services never import electron: only the Electron host and the preload may.
      'no-restricted-imports': ['error', { paths: [{ name: 'electron', message: 'only main/hosts/electron.ts and preload/ may import electron' }] }],
      'vue/multi-word-component-names': 'off'
    }
  },
  {
    files: ['main/hosts/electron.ts', 'preload/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' }
  },
  {
    files: ['bin/**/*.cjs', 'scripts/**/*.mjs'],
    languageOptions: { globals: { require: 'readonly', process: 'readonly', __dirname: 'readonly', console: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' }
  },
  // Formatting is Prettier's (npm run format); the stylistic rules that would fight it are off.
  prettier
)
