/** Checks that a view is readable as drawn: no text spilling out of or cut off by its cell. */
import type { Locator, Page } from 'playwright-core'

/**
 * The text of every element under `root` matching `selector` whose content is wider than its box (cut off, or
 * running into the next cell), except where the view cuts it on purpose with an ellipsis and a tooltip.
 */
export async function overflowing(root: Locator, selector: string, options: { strict?: boolean } = {}): Promise<string[]> {
  return root.evaluate(
    (el, { sel, strict }) => {
      const out: string[] = []
      for (const e of Array.from(el.querySelectorAll<HTMLElement>(sel))) {
        const style = getComputedStyle(e)
        // strict: headers and figures must fit whole, even where an ellipsis would be allowed.
        const cutOnPurpose = !strict && style.textOverflow === 'ellipsis' && (e.title || e.closest('[title]'))
        if (e.scrollWidth > e.clientWidth + 1 && !cutOnPurpose) out.push(`${e.textContent?.trim()} (${e.scrollWidth} > ${e.clientWidth})`)
      }
      return out
    },
    { sel: selector, strict: options.strict ?? false }
  )
}

/** Whether `root` (or a scroller inside it) is wider than what it shows: then a scroll bar must be visible. */
export async function hiddenScroll(root: Locator): Promise<string[]> {
  return root.evaluate((el) => {
    const out: string[] = []
    for (const e of [el, ...Array.from(el.querySelectorAll<HTMLElement>('*'))] as HTMLElement[]) {
      const style = getComputedStyle(e)
      if (!/(auto|scroll)/.test(style.overflowX)) continue
      const hidden = e.scrollWidth > e.clientWidth + 1
      // A horizontal scroll bar takes height: offsetHeight − clientHeight − borders > 0 when it shows.
      const bar = e.offsetHeight - e.clientHeight - parseFloat(style.borderTopWidth) - parseFloat(style.borderBottomWidth)
      if (hidden && bar <= 0) out.push(`${e.className || e.tagName}: ${e.scrollWidth} > ${e.clientWidth}, no scroll bar`)
    }
    return out
  }, undefined)
}

/** Scrolls the view so the element with this test id sits `margin` px below the top (its card's title in view). */
export async function scrollToTop(page: Page, testId: string, margin = 60): Promise<void> {
  await page
    .getByTestId(testId)
    .first()
    .evaluate((el, m) => {
      // The page's own scroller (the layout's content), not a table's or a card's inner one.
      let scroller: HTMLElement | null = el.closest<HTMLElement>('.n-layout-scroll-container') ?? el.parentElement
      while (scroller && !(scroller.scrollHeight > scroller.clientHeight && /(auto|scroll)/.test(getComputedStyle(scroller).overflowY)))
        scroller = scroller.parentElement
      if (!scroller) return
      scroller.scrollTop += el.getBoundingClientRect().top - scroller.getBoundingClientRect().top - m
    }, margin)
  await page.waitForTimeout(100)
}
