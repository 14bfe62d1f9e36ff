/**
 * Facts of an import that the import worker needs as values, kept apart from the contract's zod schemas: the worker
 * then starts without building them (~40-55 ms of every import worker's start). contract.ts re-exports them, so the
 * contract still says everything the API promises.
 */

/** What a date column gives unless the user chooses: year, month and day of the week. */
export const DEFAULT_DATE_PARTS = ['year', 'month', 'weekday'] as const

/** Set-aside rows listed with the dataset (the count covers the rest). */
export const SET_ASIDE_LISTED = 100
