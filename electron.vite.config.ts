import { resolve } from 'node:path'
import { existsSync } from 'node:fs'
import { defineConfig } from 'electron-vite'
import vue from '@vitejs/plugin-vue'

// The design card's layout (main/, preload/, renderer/ at the top level) instead of electron-vite's src/.
// Dependencies stay external in main (electron-vite's default): native modules (sqlite3, onnxruntime-node,
// tfjs-node, sharp, DuckDB) and tfjs-backend-wasm, which finds its .wasm file next to its own package.
export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      rollupOptions: {
        input: {
          index: resolve(__dirname, 'main/index.ts'),
          cli: resolve(__dirname, 'main/cli.ts'),
          ...(existsSync(resolve(__dirname, 'main/train/worker.ts')) ? { trainWorker: resolve(__dirname, 'main/train/worker.ts') } : {}),
          // One block of a decoupled pipeline, started by the training worker (main/train/pipeline.ts).
          ...(existsSync(resolve(__dirname, 'main/train/blockWorker.ts')) ? { blockWorker: resolve(__dirname, 'main/train/blockWorker.ts') } : {}),
          importWorker: resolve(__dirname, 'main/data/importWorker.ts'),
          // The import worker's second thread: hashes, plain CSV segments (main/data/importHelper.ts).
          importHelperWorker: resolve(__dirname, 'main/data/importHelperWorker.ts')
        }
      }
    }
  },
  preload: {
    build: {
      outDir: 'out/preload',
      rollupOptions: { input: { index: resolve(__dirname, 'preload/index.ts') } }
    }
  },
  renderer: {
    root: resolve(__dirname, 'renderer'),
    resolve: { alias: { '@contract': resolve(__dirname, 'main/shared/contract.ts'), '@shared': resolve(__dirname, 'main/shared') } },
    plugins: [vue()],
    build: {
      outDir: resolve(__dirname, 'out/renderer'),
      chunkSizeWarningLimit: 2000,
      rollupOptions: { input: { index: resolve(__dirname, 'renderer/index.html') } }
    }
  }
})
