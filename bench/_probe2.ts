import { openDuck, sqlString } from '../main/data/duck'
async function main() {
  const file = process.argv[2]!
  const duck = await openDuck({ threads: 2 })
  const cols = Array.from({ length: 19 }, (_, i) => `'f${i + 1}': 'DOUBLE'`).join(', ') + ", 'label': 'VARCHAR'"
  const NULLS = ['', 'NA', 'na', 'Na', 'N/A', 'n/a', 'N/a', 'NaN', 'nan', 'NAN', 'null', 'NULL', 'Null', '?'].map(sqlString).join(', ')
  const base = `${sqlString(file)}, delim=',', quote='"', escape='"', header=true, skip=0, decimal_separator='.', encoding='utf-8', compression='none', auto_detect=false, columns={${cols}}`
  let k = 0
  const variants: Record<string, string> = {
    plain: base,
    nulls: `${base}, nullstr=[${NULLS}]`,
    big: `${base}, max_line_size=${64 << 20}, buffer_size=${128 << 20}`,
    rejects: `${base}, store_rejects=true, rejects_table='r${k}', rejects_scan='s${k}', rejects_limit=0`,
    all: `${base}, nullstr=[${NULLS}], max_line_size=${64 << 20}, buffer_size=${128 << 20}, store_rejects=true, rejects_table='r9', rejects_scan='s9', rejects_limit=0`
  }
  for (let round = 0; round < 2; round++)
    for (const [name, args] of Object.entries(variants)) {
      await duck.connection.run(`DROP TABLE IF EXISTS r0; DROP TABLE IF EXISTS s0; DROP TABLE IF EXISTS r9; DROP TABLE IF EXISTS s9`)
      const t = performance.now()
      const sel = process.argv[3] === 'hash' ? 'SELECT *, hash(label)' : 'SELECT *'
      const result = await duck.connection.stream(`${sel} FROM read_csv(${args})`)
      let rows = 0
      for (;;) { const c = await result.fetchChunk(); if (!c || c.rowCount === 0) break; rows += c.rowCount }
      console.log(name, rows, (performance.now() - t).toFixed(0))
    }
  duck.close()
}
void main()
