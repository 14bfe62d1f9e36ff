/**
 * The store URL: what reaches the driver, what is shown (never the password), who chose the store, TLS as the URL
 * says (against the test cluster's self-signed certificate), and connection problems as one line naming host:port.
 */
import { describe, expect, it } from 'vitest'
import { LabError } from '../../../main/shared/errors'
import { describeStoreError, parsePostgresUrl, redact, resolveStore } from '../../../main/store/location'
import { PostgresDb } from '../../../main/store/postgres'
import { freshPostgresDatabase, postgresPassword, postgresUrl } from '../../fixtures/postgres'

describe('store URL', () => {
  it('gives the driver the decoded parts and shows user@host:port/db without the password', () => {
    const where = parsePostgresUrl('postgres://ana%40lab:p%40ss%2Fw0rd@db.example:6543/history')
    expect(where.config).toMatchObject({ host: 'db.example', port: 6543, user: 'ana@lab', password: 'p@ss/w0rd', database: 'history', ssl: false })
    expect(where.display).toBe('postgres://ana@lab@db.example:6543/history')
    expect(where.server).toBe('db.example:6543')
    expect(JSON.stringify({ display: where.display, server: where.server })).not.toContain('p@ss')
    expect(parsePostgresUrl('postgresql://u@h/db').config.port).toBe(5432)
    expect(parsePostgresUrl('postgres://u:pw@localhost/db?host=/run/postgresql').config.host).toBe('/run/postgresql')
  })

  it('asks for TLS where the URL says so: require encrypts, verify-full and ssl=true also check the certificate', () => {
    expect(parsePostgresUrl('postgres://u:pw@h/db?sslmode=require')).toMatchObject({
      config: { ssl: { rejectUnauthorized: false } },
      display: 'postgres://u@h:5432/db (TLS)'
    })
    expect(parsePostgresUrl('postgres://u:pw@h/db?sslmode=verify-full').config.ssl).toEqual({ rejectUnauthorized: true })
    expect(parsePostgresUrl('postgres://u:pw@h/db?ssl=true').config.ssl).toEqual({ rejectUnauthorized: true })
    expect(parsePostgresUrl('postgres://u:pw@h/db?sslmode=disable').config.ssl).toBe(false)
  })

  it('takes --store, else LAYERLAB_STORE, else the saved setting, else SQLite', () => {
    const env = { LAYERLAB_STORE: 'postgres://e:pw@env-host/db' }
    expect(resolveStore('postgres://o:pw@option-host/db', env, 'postgres://s@saved/db')).toMatchObject({
      server: 'option-host:5432',
      source: 'option'
    })
    expect(resolveStore(undefined, env, 'postgres://s@saved/db')).toMatchObject({ server: 'env-host:5432', source: 'env' })
    expect(resolveStore(undefined, {}, 'postgres://s@saved/db')).toMatchObject({ server: 'saved:5432', source: 'settings' })
    expect(resolveStore(undefined, {})).toEqual({ kind: 'sqlite', source: 'default' })
    expect(resolveStore('sqlite', env)).toEqual({ kind: 'sqlite', source: 'option' })
    expect(() => resolveStore('not a url', {})).toThrow('--store: not a store URL')
    expect(() => resolveStore(undefined, { LAYERLAB_STORE: 'redis://x:secret-pw@h' })).toThrow(/^LAYERLAB_STORE: redis stores are not supported/)
  })

  it('a connection problem is one user line with host:port; any other error keeps its kind, with the password taken out', () => {
    const where = parsePostgresUrl('postgres://u:s3cret%21@10.0.0.9:5433/db')
    const refused = describeStoreError(where, Object.assign(new Error('connect ECONNREFUSED 10.0.0.9:5433'), { code: 'ECONNREFUSED' }))
    expect(refused).toBeInstanceOf(LabError)
    expect(refused.message).toBe(
      'PostgreSQL store at 10.0.0.9:5433: unreachable: connection refused (is PostgreSQL running and listening there?) (ECONNREFUSED)'
    )
    const bug = describeStoreError(where, Object.assign(new Error('syntax error near "s3cret!" and s3cret%21'), { code: '42601' }))
    expect(bug).not.toBeInstanceOf(LabError)
    expect(bug.message).toBe('syntax error near "***" and ***')
    expect(redact('a s3cret! b', where)).toBe('a *** b')
  })
})

describe.skipIf(!postgresUrl())('store URL on the test cluster', () => {
  it('sslmode=require connects over TLS; a URL that checks the certificate refuses the self-signed one in one line', async () => {
    const url = await freshPostgresDatabase()
    const db = await PostgresDb.open(parsePostgresUrl(`${url}?sslmode=require`))
    expect(await db.get('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).toEqual({ ssl: true })
    expect(db.location).toMatch(/ \(TLS\)$/)
    await db.close()
    const plain = await PostgresDb.open(parsePostgresUrl(url))
    expect(await plain.get('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).toEqual({ ssl: false })
    await plain.close()
    const checked = PostgresDb.open(parsePostgresUrl(`${url}?sslmode=verify-full`))
    await expect(checked).rejects.toThrow(LabError)
    const message = await checked.catch((error: Error) => error.message)
    expect(message).toMatch(/^PostgreSQL store at 127\.0\.0\.1:\d+: cannot connect: .*(self.signed|certificate)/i)
    expect(message).not.toContain(postgresPassword())
  })
})
