/**
 * Two labs on one queue pass each other's workers' events on to their hosts, once, and never publish back what they
 * heard (a lab that did would echo events between them for ever). A real Redis (test/setup/redis.ts).
 */
import { afterEach, describe, expect, inject, it } from 'vitest'
import { Redis } from 'ioredis'
import { LabEvents } from '../../../main/core/events'
import { parseQueueUrl, queueNames } from '../../../main/core/queue'
import { QueueWatch } from '../../../main/study/queueWatch'

const redisUrl = inject('redisUrl')

describe.skipIf(!redisUrl)('QueueWatch', () => {
  const open: QueueWatch[] = []
  afterEach(async () => {
    for (const watch of open.splice(0)) await watch.close()
  })

  it('re-emits a worker’s event in every other lab once and publishes nothing it heard', async () => {
    const queue = parseQueueUrl(redisUrl!)
    const spy = new Redis(redisUrl!)
    const onChannel: string[] = []
    await spy.subscribe(queueNames().progress)
    spy.on('message', (_channel: string, text: string) => onChannel.push(text))
    const labs = ['a', 'b', 'c'].map((id) => {
      const events = new LabEvents()
      const watch = new QueueWatch(queue, events.emit, `lab-${id}`)
      open.push(watch)
      // Each lab publishes what it emits, as lab.ts wires it.
      events.subscribe((event, payload) => watch.publish(event, payload))
      const heard: unknown[] = []
      events.subscribe((event, payload) => heard.push({ event, payload }))
      return { events, heard }
    })
    await new Promise((resolve) => setTimeout(resolve, 300))
    const progress = { studyId: 'st-1', status: 'running' as const, total: 4, done: 1, failed: 0, running: 1, etaMs: null }
    labs[0]!.events.emit('study.progress', progress)
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect(onChannel).toHaveLength(1)
    expect(labs[1]!.heard).toEqual([{ event: 'study.progress', payload: progress }])
    expect(labs[2]!.heard).toEqual([{ event: 'study.progress', payload: progress }])
    // A malformed or unknown message on the channel reaches no host.
    await spy.duplicate().publish(queueNames().progress, JSON.stringify({ event: 'study.progress', payload: { studyId: 3 }, workerId: 'x' }))
    await spy.duplicate().publish(queueNames().progress, 'not json')
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(labs[1]!.heard).toHaveLength(1)
    spy.disconnect()
  })

  it('hears nothing from another named queue or another database on the same Redis (pub/sub ignores databases)', async () => {
    const [teamA, teamB, db1] = [`${redisUrl!}?queue=team-a`, `${redisUrl!}?queue=team-b`, `${redisUrl!}/1`].map((url) => {
      const events = new LabEvents()
      const watch = new QueueWatch(parseQueueUrl(url), events.emit, `lab-${url}`)
      open.push(watch)
      events.subscribe((event, payload) => watch.publish(event, payload))
      const heard: unknown[] = []
      events.subscribe((_event, payload) => heard.push(payload))
      return { events, heard }
    })
    const sameTeam = new LabEvents()
    const sameTeamHeard: unknown[] = []
    sameTeam.subscribe((_event, payload) => sameTeamHeard.push(payload))
    open.push(new QueueWatch(parseQueueUrl(`${redisUrl!}?queue=team-a`), sameTeam.emit, 'lab-team-a-2'))
    await new Promise((resolve) => setTimeout(resolve, 300))
    const progress = { studyId: 'st-2', status: 'running' as const, total: 2, done: 0, failed: 0, running: 1, etaMs: null }
    teamA!.events.emit('study.progress', progress)
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect(sameTeamHeard).toEqual([progress])
    expect(teamB!.heard).toEqual([])
    expect(db1!.heard).toEqual([])
  })
})
