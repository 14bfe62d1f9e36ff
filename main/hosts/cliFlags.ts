/** Parsers of the CLI's flag values: a wrong value is a usage error naming the flag and what it must be. */
import { InvalidArgumentError, Option } from 'commander'
import {
  type ChosenDateOrder,
  chosenDateOrder,
  type DatePart,
  datePart,
  task as taskSchema,
  trainConfig,
  trainMode,
  type TrainMode
} from '../shared/contract'

/** A commander parser for a number flag: `accept` says which values are valid, `what` how to say so. */
export const numberFlag = (label: string, what: string, accept: (n: number) => boolean) => (value: string) => {
  const n = Number(value)
  if (!Number.isFinite(n) || !accept(n)) throw new InvalidArgumentError(`${label} must be ${what}`)
  return n
}
export const positiveInt = (label: string) => numberFlag(label, 'a positive integer', (n) => Number.isInteger(n) && n > 0)
export const nonNegativeInt = (label: string) => numberFlag(label, 'an integer ≥ 0', (n) => Number.isInteger(n) && n >= 0)
export const positiveNumber = (label: string) => numberFlag(label, 'a positive number', (n) => n > 0)
export const nonNegativeNumber = (label: string) => numberFlag(label, 'a number in [0, 1000]', (n) => n >= 0 && n <= 1000)
export const unitInterval = (label: string) => numberFlag(label, 'in [0, 1)', (n) => n >= 0 && n < 1)
/** --weight-decay: the contract's bound of a block's L2 coefficient. */
export const weightDecayRate = numberFlag('--weight-decay', 'in [0, 1]', (n) => n >= 0 && n <= 1)
export const freezeFraction = numberFlag('--freeze-out', 'in [0.1, 1]', (n) => n >= 0.1 && n <= 1)
export const imageSize = (value: string) => {
  const match = /^(\d+)x(\d+)$/i.exec(value)
  if (!match) throw new InvalidArgumentError('expected WxH, for example 28x28')
  return { width: Number(match[1]), height: Number(match[2]) }
}
export const hiddenSizes = (value: string) => {
  const sizes = value.split(',').map((part) => Number(part.trim()))
  if (sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n <= 0)) throw new InvalidArgumentError('expected sizes like 100,100')
  return sizes
}
/** --compare end-to-end,layer-wise */
export const modeList = (value: string): TrainMode[] => {
  const modes = value.split(',').map((part) => part.trim())
  const bad = modes.find((mode) => !trainMode.safeParse(mode).success)
  if (bad !== undefined || modes.length === 0) throw new InvalidArgumentError(`expected modes from ${trainMode.options.join(', ')}, comma-separated`)
  return [...new Set(modes)] as TrainMode[]
}

// The dataset and objective flags `train` and `study` share (one definition, so their help and choices agree;
// a fresh Option per command).
export const targetFlag = (): Option => new Option('--target <column>', 'target column when importing')
export const taskFlag = (): Option =>
  new Option('--task <task>', "predict classes or a number (default: the dataset's task; a change is stored with the dataset)").choices(
    taskSchema.options
  )
export const lossFlag = (): Option =>
  new Option('--loss <loss>', 'regression loss on the standardised target').choices(trainConfig.shape.loss.unwrap().options)
export const classWeightsFlag = (): Option =>
  new Option('--class-weights <weights>', 'classification: balanced weighs rows by inverse class frequency').choices(
    trainConfig.shape.classWeights.unwrap().options
  )

/** One --dates COLUMN=PARTS: the parts a date column gives the model (none: excluded), and/or its day/month order. */
export interface DateChoice {
  name: string
  dateParts?: DatePart[]
  dateOrder?: ChosenDateOrder
}
/**
 * --dates when=year,month,weekday (repeatable; "none" excludes the column; dmy or mdy among them reads a column whose
 * values never told day from month in that order); the value so far is the earlier flags'.
 */
export const dateChoice = (value: string, earlier: DateChoice[] = []): DateChoice[] => {
  const at = value.lastIndexOf('=')
  const name = value.slice(0, at).trim()
  const words = value
    .slice(at + 1)
    .split(',')
    .map((part) => part.trim())
  const usage = `expected COLUMN=PARTS with PARTS from ${datePart.options.join(', ')} (comma-separated) or none, and ${chosenDateOrder.options.join(' or ')} to set the day/month order, for example when=year,month,weekday or when=dmy`
  if (at <= 0 || name === '') throw new InvalidArgumentError(usage)
  const orders = words.filter((word) => chosenDateOrder.safeParse(word).success) as ChosenDateOrder[]
  if (orders.length > 1) throw new InvalidArgumentError(`one day/month order per column, not ${orders.join(' and ')}; ${usage}`)
  const parts = words.filter((word) => !orders.includes(word as ChosenDateOrder))
  const order = orders.length ? { dateOrder: orders[0]! } : {}
  if (parts.length === 0) return [...earlier, { name, ...order }]
  if (parts.length === 1 && parts[0] === 'none') return [...earlier, { name, dateParts: [], ...order }]
  const bad = parts.find((part) => !datePart.safeParse(part).success)
  if (bad !== undefined) throw new InvalidArgumentError(`"${bad}" is not a date part; ${usage}`)
  return [...earlier, { name, dateParts: parts as DatePart[], ...order }]
}
export const datesFlag = (): Option =>
  new Option(
    '--dates <column=parts>',
    `a date column's features: ${datePart.options.join(', ')} (comma-separated; default year,month,weekday) or none to exclude it, and dmy or mdy to choose the day/month order where no value told them apart; repeatable`
  ).argParser(dateChoice)
