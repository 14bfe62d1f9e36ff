import { EventEmitter } from 'node:events'
import type { EventName, EventPayload } from '../shared/contract'

/** Pushes a contract event to every host that listens (Electron windows, WebSocket clients, the CLI). */
export type Emit = <E extends EventName>(event: E, payload: EventPayload<E>) => void

export class LabEvents {
  private readonly emitter = new EventEmitter()
  constructor() {
    this.emitter.setMaxListeners(100)
  }
  readonly emit: Emit = (event, payload) => {
    this.emitter.emit('event', event, payload)
  }
  /** Listens to every event; returns the function that stops listening. */
  subscribe(listener: (event: EventName, payload: unknown) => void): () => void {
    this.emitter.on('event', listener)
    return () => this.emitter.off('event', listener)
  }
}
