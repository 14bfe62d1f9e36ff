import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { inspectInput, openInputFile, readInputFile } from '../../../main/core/inputFile'
import { checkOutputPath } from '../../../main/core/outputFile'
import { writeFileAtomic } from '../../../main/core/atomicWrite'

const scratch = () => fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-files-'))

describe('inputs (core/inputFile.ts)', () => {
  it('reads a regular file, through a symlink too, and refuses one over the limit before reading', async () => {
    const dir = scratch()
    const file = path.join(dir, 'a.bin')
    fs.writeFileSync(file, 'hello')
    fs.symlinkSync(file, path.join(dir, 'link.bin'))
    expect((await readInputFile(path.join(dir, 'link.bin'))).toString()).toBe('hello')
    await expect(readInputFile(file, { maxBytes: 4, what: 'a test file' })).rejects.toThrow(
      `${file}: is 5 bytes, more than the 4 bytes LayerLab reads for a test file`
    )
  })

  it('names what a path is when it is not a file: pipe, device, folder, missing', async () => {
    const dir = scratch()
    const pipe = path.join(dir, 'pipe')
    execFileSync('mkfifo', [pipe])
    await expect(openInputFile(pipe)).rejects.toThrow(`${pipe}: is a named pipe (FIFO), not a regular file`)
    await expect(readInputFile('/dev/zero')).rejects.toThrow('/dev/zero: is a character device, not a regular file')
    await expect(readInputFile(dir)).rejects.toThrow(`${dir}: is a folder, not a regular file`)
    await expect(inspectInput(path.join(dir, 'nope'), 'directory')).rejects.toMatchObject({ code: 'not_found' })
    expect((await inspectInput(dir, 'directory')).isDirectory()).toBe(true)
  })
})

describe('outputs (core/outputFile.ts, core/atomicWrite.ts)', () => {
  it('never clobbers a file that appears between the check and the write', () => {
    const dir = scratch()
    const out = checkOutputPath(path.join(dir, 'model.onnx'), { home: path.join(dir, 'home'), overwrite: false })
    // Someone else writes the file meanwhile: the no-clobber write refuses, and their file stays.
    fs.writeFileSync(out, 'theirs')
    expect(() => writeFileAtomic(out, 'ours', { overwrite: false })).toThrow(`${out}: already exists; pass --force to replace it`)
    expect(fs.readFileSync(out, 'utf8')).toBe('theirs')
    expect(fs.readdirSync(dir)).toEqual(['model.onnx'])
    writeFileAtomic(out, 'ours', { overwrite: true })
    expect(fs.readFileSync(out, 'utf8')).toBe('ours')
  })

  it('refuses a path whose folder is a symlink into the data home', () => {
    const dir = scratch()
    const home = path.join(dir, 'home')
    fs.mkdirSync(path.join(home, 'runs'), { recursive: true })
    fs.symlinkSync(path.join(home, 'runs'), path.join(dir, 'elsewhere'))
    expect(() => checkOutputPath(path.join(dir, 'elsewhere', 'x.onnx'), { home, overwrite: true })).toThrow(
      "would overwrite the data home's runs/ folder"
    )
    expect(checkOutputPath(path.join(home, 'mine.onnx'), { home, overwrite: false })).toBe(path.join(home, 'mine.onnx'))
  })
})
