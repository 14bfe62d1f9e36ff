import { describe, expect, it } from 'vitest'
import { uploadChoice, uploadedTarget } from '../../../main/shared/uploads'

describe('what an upload stands for', () => {
  it('is the file for one loose file, the chosen folder for a folder, the batch for loose files', () => {
    expect(uploadChoice(['plants.csv'])).toEqual({ kind: 'file' })
    expect(uploadChoice(['test/coat/1.png', 'test/bag/2.png'])).toEqual({ kind: 'folder', name: 'test' })
    // A folder holding one file is still the folder.
    expect(uploadChoice(['test/coat/1.png'])).toEqual({ kind: 'folder', name: 'test' })
    expect(uploadChoice(['a.png', 'b.png'])).toEqual({ kind: 'files' })
    expect(uploadChoice(['a/x.png', 'b/y.png'])).toEqual({ kind: 'files' })
    expect(uploadChoice([])).toEqual({ kind: 'files' })
  })

  it('gives the stored path of the chosen folder, not the batch folder above it (with either separator)', () => {
    const folder = uploadChoice(['test/coat/1.png'])
    expect(uploadedTarget(folder, '/home/u/uploads/b1', '/home/u/uploads/b1/test/coat/1.png')).toBe('/home/u/uploads/b1/test')
    expect(uploadedTarget(folder, 'C:\\u\\uploads\\b1', 'C:\\u\\uploads\\b1\\test\\coat\\1.png')).toBe('C:\\u\\uploads\\b1\\test')
    expect(uploadedTarget({ kind: 'file' }, '/u/b1', '/u/b1/plants.csv')).toBe('/u/b1/plants.csv')
    expect(uploadedTarget({ kind: 'files' }, '/u/b1', '/u/b1/a.png')).toBe('/u/b1')
  })
})
