/**
 * Training-time image augmentation: each training image of a batch gets a small random rotation and shift, and
 * optionally a horizontal flip (off by default: it changes the meaning of digits and letters). Validation and
 * test images are never touched.
 */
export interface AugmentOptions {
  flip: boolean
  /** Largest shift in pixels along each axis. */
  maxShift: number
  /** Largest rotation in degrees, either way. */
  maxDegrees: number
}

export const DEFAULT_AUGMENT: AugmentOptions = { flip: false, maxShift: 2, maxDegrees: 10 }

/**
 * Writes one transformed [h, w, c] image from `source` (at offset `from`) into `target` (at offset `to`) by
 * inverse mapping with nearest-neighbour sampling: every output pixel looks up where it came from, so nothing
 * is left as a hole; pixels that come from outside the image are 0.
 */
export function augmentImage(
  source: Float32Array,
  from: number,
  target: Float32Array,
  to: number,
  shape: number[],
  random: () => number,
  options: AugmentOptions = DEFAULT_AUGMENT
): void {
  const [h, w, c] = shape
  if (h === undefined || w === undefined || c === undefined) throw new Error(`augmentImage takes [height, width, channels], not [${shape}]`)
  const angle = ((random() * 2 - 1) * options.maxDegrees * Math.PI) / 180
  const dy = Math.round((random() * 2 - 1) * options.maxShift)
  const dx = Math.round((random() * 2 - 1) * options.maxShift)
  const flip = options.flip && random() < 0.5
  const cos = Math.cos(angle)
  const sin = Math.sin(angle)
  const cy = (h - 1) / 2
  const cx = (w - 1) / 2
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // Undo the shift, then the rotation (rotate back by -angle about the centre), then the flip.
      const ry = y - dy - cy
      const rx = x - dx - cx
      const sy = Math.round(cos * ry + sin * rx + cy)
      let sx = Math.round(-sin * ry + cos * rx + cx)
      if (flip) sx = w - 1 - sx
      const out = to + (y * w + x) * c
      if (sy < 0 || sy >= h || sx < 0 || sx >= w) {
        target.fill(0, out, out + c)
        continue
      }
      const inp = from + (sy * w + sx) * c
      for (let k = 0; k < c; k++) target[out + k] = source[inp + k]!
    }
  }
}
