/**
 * The bridge between the sandboxed renderer and the main process: `window.lab`, typed by the contract.
 * It imports only types from the contract (a sandboxed preload cannot load npm packages); the main side
 * validates every name and argument.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron'
import type { EventName, EventPayload, LabBridge, RequestArgs, RequestName } from '../main/shared/contract'

const INVOKE_CHANNEL = 'lab:invoke'
const PICK_CHANNEL = 'lab:pick'
const EVENT_CHANNEL = 'lab:event'

const lab: LabBridge = {
  transport: 'electron',
  /** Sends one request of the contract to the main process; resolves to its ApiResponse. */
  invoke: <K extends RequestName>(name: K, args?: RequestArgs<K>) => ipcRenderer.invoke(INVOKE_CHANNEL, name, args ?? {}),
  /** Subscribes to one event of the contract; returns the function that unsubscribes. */
  on: <E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void) => {
    const handler = (_e: IpcRendererEvent, name: string, payload: unknown) => {
      if (name === event) listener(payload as EventPayload<E>)
    }
    ipcRenderer.on(EVENT_CHANNEL, handler)
    return () => ipcRenderer.off(EVENT_CHANNEL, handler)
  },
  /** Native dialogs: a table file, an image folder, or where to save an ONNX file; null when cancelled. */
  pickPath: (kind) => ipcRenderer.invoke(PICK_CHANNEL, kind)
}

contextBridge.exposeInMainWorld('lab', lab)
