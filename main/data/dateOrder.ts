/**
 * A date column read again in the other numeric order (day/month/year ↔ month/day/year), for a column none of whose
 * values told the day from the month (every first and second number ≤ 12: the import took the separator's usual
 * order, and said it was a guess). The user's order is a new reading of the same text: new day numbers, a new
 * profile; the text (c<i>.src codes under VOCAB_CAP distinct values, else the strings file) stays as it is.
 *
 * In two steps, so a refused change leaves the dataset as it was: stageDateOrder writes the new column files into a
 * staging folder (in the import worker: a million timestamps take a second), swapStaged moves them into place and
 * returns the way back, kept until the refit that follows has succeeded.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { ChosenDateOrder } from '../shared/contract'
import { LabError } from '../shared/errors'
import { DATE_ORDER_TEXT } from '../shared/dates'
import { NumericColumn } from './columns'
import { DateRowReader, parseDate } from './dates'
import type { ColumnStats } from './profile'
import { FilePool, bufferShare, columnFile } from './storage'

/** The folder a staged column's files are written to, inside the dataset's folder (one per column). */
const stagingDir = (dir: string, index: number): string => path.join(dir, `.staged-c${index}`)

/** The files a date column's reading owns (day numbers, and their codes while there are few). */
const READ_FILES = ['f64', 'i32'] as const

export interface DateOrderRequest {
  dir: string
  /** The column's number in the dataset (its files are c<index>.*). */
  index: number
  stats: ColumnStats
  order: ChosenDateOrder
  /** The dataset's name, for messages. */
  label: string
}

/**
 * Reads the column's text in `order` into new column files in the staging folder and returns the column's new
 * statistics. Refused (nothing written) for a column that is not dates, or whose values told day from month.
 */
export function stageDateOrder({ dir, index, stats, order, label }: DateOrderRequest): ColumnStats {
  const date = stats.date
  if (!date) throw new LabError(`${label}: column "${stats.name}" is not a date column; a day/month order applies to dates only`)
  if (date.order === order) return stats
  if (!date.ambiguous)
    throw new LabError(
      `${label}: column "${stats.name}" has dates that read only as ${DATE_ORDER_TEXT[date.order]} (a value tells the day from the month), so its order cannot be changed`
    )
  const staged = stagingDir(dir, index)
  fs.rmSync(staged, { recursive: true, force: true })
  fs.mkdirSync(staged)
  const pool = new FilePool()
  const numeric = new NumericColumn(stats.name, { dir: staged, index, pool, share: bufferShare(2) }, -1)
  const refuse = (text: string): never => {
    // Cannot happen for a column whose import found both orders reading every value; said plainly if it does.
    throw new LabError(`${label}: column "${stats.name}": "${text}" is not a date in ${DATE_ORDER_TEXT[order]} order`)
  }
  try {
    if (stats.files.str) {
      // More distinct values than the vocabulary held: every row's text, from the strings file.
      const reader = new DateRowReader(order, false)
      const bad = numeric.addRead(columnFile(dir, index, 'str'), columnFile(dir, index, 'off'), stats.present + stats.missing, (text) =>
        reader.read(text)
      )
      if (bad !== null) refuse(bad)
    } else {
      // Each distinct spelling read once; the rows are its codes.
      const spellings = stats.spellings ?? []
      const days = Float64Array.from(spellings, (text) => parseDate(text, order))
      const bad = spellings.find((_, code) => Number.isNaN(days[code]))
      if (bad !== undefined) refuse(bad)
      numeric.addCoded(columnFile(dir, index, 'src'), days)
    }
    const read = numeric.finish()
    return {
      ...read,
      ...(stats.spellings ? { spellings: stats.spellings } : {}),
      date: { order, ambiguous: true },
      files: { ...read.files, str: stats.files.str }
    }
  } catch (error) {
    numeric.abort()
    fs.rmSync(staged, { recursive: true, force: true })
    throw error
  } finally {
    pool.closeAll()
  }
}

/**
 * Moves the staged files of column `index` into place (the ones they replace are kept aside) and returns undo(),
 * which puts the old ones back; done() drops what was kept. A column without a staged file of a kind (no codes:
 * too many distinct days) loses its old one of that kind.
 */
export function swapStaged(dir: string, index: number): { undo(): void; done(): void } {
  const staged = stagingDir(dir, index)
  const kept = (kind: string) => path.join(staged, `previous.${kind}`)
  const moved: (typeof READ_FILES)[number][] = []
  for (const kind of READ_FILES) {
    const current = columnFile(dir, index, kind)
    if (fs.existsSync(current)) fs.renameSync(current, kept(kind))
    const next = columnFile(staged, index, kind)
    if (fs.existsSync(next)) fs.renameSync(next, current)
    moved.push(kind)
  }
  return {
    undo() {
      for (const kind of moved) {
        const current = columnFile(dir, index, kind)
        fs.rmSync(current, { force: true })
        if (fs.existsSync(kept(kind))) fs.renameSync(kept(kind), current)
      }
      fs.rmSync(staged, { recursive: true, force: true })
    },
    done() {
      fs.rmSync(staged, { recursive: true, force: true })
    }
  }
}
