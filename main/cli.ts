/** Entry of the `layerlab` command (bin/layerlab.cjs loads the built copy of this file). */
import { runCli } from './hosts/cli'

void runCli(process.argv).then((code) => {
  process.exitCode = code
  // Native handles (a closed sqlite3 database, tfjs backends) must not keep a finished command alive.
  setTimeout(() => process.exit(code), 50).unref()
})
