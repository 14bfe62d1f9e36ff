import { describe, expect, it } from 'vitest'
import { allowExternal, permissionGranted, rendererUrl } from '../../../main/hosts/electronPolicy'

describe('desktop window policy', () => {
  const dir = '/app/out/main'
  const file = 'file:///app/out/renderer/index.html'

  it('loads only its own files when packaged, whatever ELECTRON_RENDERER_URL says', () => {
    expect(rendererUrl({ isPackaged: true, env: { ELECTRON_RENDERER_URL: 'http://localhost:5173' }, dir })).toBe(file)
    expect(rendererUrl({ isPackaged: false, env: { ELECTRON_RENDERER_URL: 'http://localhost:5173' }, dir })).toBe('http://localhost:5173')
    // In development too, only a loopback dev server.
    expect(rendererUrl({ isPackaged: false, env: { ELECTRON_RENDERER_URL: 'https://evil.example' }, dir })).toBe(file)
    expect(rendererUrl({ isPackaged: false, env: {}, dir })).toBe(file)
  })

  it('opens only allow-listed https links outside, and grants no permission', () => {
    expect(allowExternal('https://github.com/onnx/onnx')).toBe(true)
    for (const url of [
      'http://github.com/',
      'https://github.com.evil.example/',
      'https://user@github.com/',
      'file:///etc/passwd',
      'javascript:alert(1)',
      'nonsense'
    ])
      expect([url, allowExternal(url)]).toEqual([url, false])
    for (const permission of ['media', 'geolocation', 'notifications', 'clipboard-read', 'usb']) expect(permissionGranted(permission)).toBe(false)
  })
})
