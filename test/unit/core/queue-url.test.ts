/**
 * The queue URL: what the client gets, what is shown and stored (never a password), and the Redis names a queue
 * uses — the default queue keeps the names LayerLab always used; `?queue=NAME` and the database give their own.
 */
import { describe, expect, it } from 'vitest'
import { parseQueueUrl, queueNames } from '../../../main/core/queue'

describe('parseQueueUrl', () => {
  it('keeps the default queue’s names (workers already running keep working)', () => {
    const queue = parseQueueUrl('redis://analyst:pw@10.0.0.5:6390')
    expect(queue).toMatchObject({ shown: 'redis://10.0.0.5:6390', name: '', host: '10.0.0.5', port: 6390, tls: false })
    expect(queue.url).toBe('redis://analyst:pw@10.0.0.5:6390')
    expect(queue.names).toEqual({
      queue: 'layerlab-members',
      progress: 'layerlab:progress',
      cancel: 'layerlab:cancel',
      workerPrefix: 'layerlab:worker:'
    })
  })

  it('gives a named queue, and a database, names of their own; the shown URL says both and parses to the same names', () => {
    const queue = parseQueueUrl('rediss://:s3cret@redis.example.org/2?queue=team-a&family=6')
    expect(queue.shown).toBe('rediss://redis.example.org/2?queue=team-a')
    expect(queue.shown).not.toContain('s3cret')
    // The client keeps its own parameters and the credentials, not ours.
    expect(queue.url).toBe('rediss://:s3cret@redis.example.org/2?family=6')
    expect(queue.names).toEqual({
      queue: 'layerlab-members-team-a',
      progress: 'layerlab:progress:db2:team-a',
      cancel: 'layerlab:cancel:db2:team-a',
      workerPrefix: 'layerlab:worker:team-a:'
    })
    expect(parseQueueUrl(queue.shown).names).toEqual(queue.names)
    expect(queueNames('', 3).progress).toBe('layerlab:progress:db3')
    expect(queueNames('', 3).queue).toBe('layerlab-members')
  })

  it('refuses a bad queue name or database in one line that names the flag', () => {
    expect(() => parseQueueUrl('redis://h:1?queue=')).toThrow("--queue: queue name \"\" must be 1-48 letters, digits, '.', '_' or '-'")
    expect(() => parseQueueUrl('redis://h:1?queue=a:b')).toThrow(/queue name "a:b" must be/)
    expect(() => parseQueueUrl(`redis://h:1?queue=${'x'.repeat(49)}`)).toThrow(/must be 1-48/)
    expect(() => parseQueueUrl('redis://h:1/two')).toThrow('--queue: /two is not a Redis database number (expected redis://HOST:PORT/N)')
    expect(() => parseQueueUrl('postgres://h:1')).toThrow(/is not a Redis URL/)
  })
})
