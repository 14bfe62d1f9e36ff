/** What LineChart draws; plain types so stores and pure modules (unit-tested without Vue) can build curves. */
export interface Curve {
  name: string
  color?: string
  dashed?: boolean
  points: Array<[number, number]>
}
/** A shaded x range (a block's stage) in the block's colour. */
export interface Band {
  name: string
  color: string
  from: number
  to: number
}
