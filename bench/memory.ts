/** Runs `work` while sampling this process's RSS every 20 ms; returns its value, wall time and the peak RSS seen. */
export async function peakRss<T>(work: () => Promise<T>): Promise<{ value: T; ms: number; peakRssBytes: number }> {
  global.gc?.()
  let peak = process.memoryUsage().rss
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss)
  }, 20)
  const start = performance.now()
  try {
    const value = await work()
    const ms = performance.now() - start
    peak = Math.max(peak, process.memoryUsage().rss)
    return { value, ms, peakRssBytes: peak }
  } finally {
    clearInterval(timer)
  }
}
