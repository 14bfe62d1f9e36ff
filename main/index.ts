/** Electron entry: the desktop host. All it does is in hosts/electron.ts; services know nothing of Electron. */
import { startDesktop } from './hosts/electron'

startDesktop()
