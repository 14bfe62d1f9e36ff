import { describe, expect, it } from 'vitest'
import { trainConfig } from '../../../main/shared/contract'
import { defaultModel } from '../../../main/model/presets'
import { defaultRunName } from '../../../main/train/runName'

describe('default run names', () => {
  const { partition } = defaultModel({ inputShape: [64], classes: 10 })
  const at = new Date(2026, 11, 1, 7, 10, 32)

  it('say the dataset, the mode, the settings that matter and the second it started', () => {
    expect(defaultRunName('digits', trainConfig.parse({ mode: 'end-to-end' }), partition, at)).toBe(
      'digits · end-to-end · 60 ep, patience 10 · 12-01 07:10:32'
    )
    // The default blocks are not frozen after their stage, so the fine-tune runs.
    expect(defaultRunName('digits', trainConfig.parse({ mode: 'layer-wise' }), partition, at)).toBe(
      'digits · layer-wise · 2 blocks × 30 ep + fine-tune 10 · 12-01 07:10:32'
    )
    const mixed = { blocks: partition.blocks.map((b, i) => ({ ...b, settings: { ...b.settings, epochs: 10 * (i + 1), freezeAfter: true } })) }
    expect(defaultRunName('wine', trainConfig.parse({ mode: 'layer-wise' }), mixed, at)).toBe('wine · layer-wise · blocks 10/20 ep · 12-01 07:10:32')
  })

  it('differ for an end-to-end and a layer-wise run started the same minute', () => {
    const a = defaultRunName('digits', trainConfig.parse({ mode: 'end-to-end' }), partition, at)
    const b = defaultRunName('digits', trainConfig.parse({ mode: 'layer-wise' }), partition, at)
    expect(a).not.toBe(b)
  })
})
