;; Inference of a stride-1 conv with its bias and relu, and the max pool after it when there is one (p×p windows,
;; stride p), over NHWC float32 data, filters as SIMD lanes. For the convs on the images themselves (few input
;; channels), which XNNPACK runs slowly: on 28×28×1 with 16 filters its conv and the pool after it took about as
;; long as the second conv with 8× the multiply-adds (issue 20: scoring at a run's end).
;;
;; The same bits as tfjs's fused conv on XNNPACK, then its max pool: each output starts at its bias and adds the
;; products (multiply, then add: no fused multiply-add) tap by tap in (row, column, channel) order, the padding's
;; taps included as products of the zeros around the image (as XNNPACK's zero buffer gives them); relu is
;; pmax(0, value), as XNNPACK's clamp. The pool's maximum of values ≥ +0 is exact in any order, so the window's
;; relu and maximum run as one running pmax from +0.
;;
;; convRelu(x, w, b, y, n, pooledH, pooledW, pool, c, rowFloats, imageFloats, kc, f): byte offsets of x, the padded
;; input [n, H, W, c] (rowFloats = W·c, imageFloats = H·W·c), w [k, k, c, f], b [f] and y [n, pooledH, pooledW, f];
;; kc = k·c (one kernel row's taps are contiguous in both x and w), f a multiple of 4 (16 at a time, then 4).
(module
  (memory (export "memory") 1)
  (func (export "convRelu")
    (param $x i32) (param $w i32) (param $b i32) (param $y i32) (param $n i32) (param $pooledH i32)
    (param $pooledW i32) (param $pool i32) (param $c i32) (param $rowFloats i32) (param $imageFloats i32)
    (param $kc i32) (param $f i32)
    (local $image i32) (local $py i32) (local $px i32) (local $fo i32) (local $dy i32) (local $dx i32)
    (local $ky i32) (local $j i32) (local $k i32) (local $base i32) (local $xp i32) (local $wp i32)
    (local $fBytes i32) (local $rowBytes i32) (local $wRowBytes i32) (local $blockEnd i32)
    (local $xs v128) (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128)
    (local $best0 v128) (local $best1 v128) (local $best2 v128) (local $best3 v128)
    ;; kernel rows: the taps of one row are kc floats of x and kc·f floats of w
    (local.set $k (i32.div_u (local.get $kc) (local.get $c)))
    (local.set $fBytes (i32.shl (local.get $f) (i32.const 2)))
    (local.set $rowBytes (i32.shl (local.get $rowFloats) (i32.const 2)))
    (local.set $wRowBytes (i32.mul (local.get $kc) (local.get $fBytes)))
    ;; filters in blocks of 16 (four accumulators), then of 4
    (local.set $blockEnd (i32.and (local.get $f) (i32.const -16)))
    (block $imagesDone
      (loop $images
        (br_if $imagesDone (i32.ge_u (local.get $image) (local.get $n)))
        (local.set $py (i32.const 0))
        (block $rowsDone
          (loop $rows
            (br_if $rowsDone (i32.ge_u (local.get $py) (local.get $pooledH)))
            (local.set $px (i32.const 0))
            (block $columnsDone
              (loop $columns
                (br_if $columnsDone (i32.ge_u (local.get $px) (local.get $pooledW)))
                ;; the window's top-left input pixel
                (local.set $base
                  (i32.add (local.get $x)
                    (i32.shl
                      (i32.add (i32.mul (local.get $image) (local.get $imageFloats))
                        (i32.add (i32.mul (i32.mul (local.get $py) (local.get $pool)) (local.get $rowFloats))
                          (i32.mul (i32.mul (local.get $px) (local.get $pool)) (local.get $c))))
                      (i32.const 2))))
                (local.set $fo (i32.const 0))
                (block $wideDone
                  (loop $wide
                    (br_if $wideDone (i32.ge_u (local.get $fo) (local.get $blockEnd)))
                    (local.set $best0 (v128.const f32x4 0 0 0 0))
                    (local.set $best1 (v128.const f32x4 0 0 0 0))
                    (local.set $best2 (v128.const f32x4 0 0 0 0))
                    (local.set $best3 (v128.const f32x4 0 0 0 0))
                    (local.set $dy (i32.const 0))
                    (block $dyDone
                      (loop $dyLoop
                        (br_if $dyDone (i32.ge_u (local.get $dy) (local.get $pool)))
                        (local.set $dx (i32.const 0))
                        (block $dxDone
                          (loop $dxLoop
                            (br_if $dxDone (i32.ge_u (local.get $dx) (local.get $pool)))
                            (local.set $acc0 (v128.load (i32.add (local.get $b) (i32.shl (local.get $fo) (i32.const 2)))))
                            (local.set $acc1 (v128.load offset=16 (i32.add (local.get $b) (i32.shl (local.get $fo) (i32.const 2)))))
                            (local.set $acc2 (v128.load offset=32 (i32.add (local.get $b) (i32.shl (local.get $fo) (i32.const 2)))))
                            (local.set $acc3 (v128.load offset=48 (i32.add (local.get $b) (i32.shl (local.get $fo) (i32.const 2)))))
                            (local.set $ky (i32.const 0))
                            (block $kyDone
                              (loop $kyLoop
                                (br_if $kyDone (i32.ge_u (local.get $ky) (local.get $k)))
                                (local.set $xp
                                  (i32.add (local.get $base)
                                    (i32.add (i32.mul (i32.add (local.get $dy) (local.get $ky)) (local.get $rowBytes))
                                      (i32.shl (i32.mul (local.get $dx) (local.get $c)) (i32.const 2)))))
                                (local.set $wp
                                  (i32.add (local.get $w)
                                    (i32.add (i32.mul (local.get $ky) (local.get $wRowBytes)) (i32.shl (local.get $fo) (i32.const 2)))))
                                (local.set $j (i32.const 0))
                                (block $tapsDone
                                  (loop $taps
                                    (br_if $tapsDone (i32.ge_u (local.get $j) (local.get $kc)))
                                    (local.set $xs (v128.load32_splat (local.get $xp)))
                                    (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (local.get $xs) (v128.load (local.get $wp)))))
                                    (local.set $acc1 (f32x4.add (local.get $acc1) (f32x4.mul (local.get $xs) (v128.load offset=16 (local.get $wp)))))
                                    (local.set $acc2 (f32x4.add (local.get $acc2) (f32x4.mul (local.get $xs) (v128.load offset=32 (local.get $wp)))))
                                    (local.set $acc3 (f32x4.add (local.get $acc3) (f32x4.mul (local.get $xs) (v128.load offset=48 (local.get $wp)))))
                                    (local.set $xp (i32.add (local.get $xp) (i32.const 4)))
                                    (local.set $wp (i32.add (local.get $wp) (local.get $fBytes)))
                                    (local.set $j (i32.add (local.get $j) (i32.const 1)))
                                    (br $taps)))
                                (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
                                (br $kyLoop)))
                            (local.set $best0 (f32x4.pmax (local.get $best0) (local.get $acc0)))
                            (local.set $best1 (f32x4.pmax (local.get $best1) (local.get $acc1)))
                            (local.set $best2 (f32x4.pmax (local.get $best2) (local.get $acc2)))
                            (local.set $best3 (f32x4.pmax (local.get $best3) (local.get $acc3)))
                            (local.set $dx (i32.add (local.get $dx) (i32.const 1)))
                            (br $dxLoop)))
                        (local.set $dy (i32.add (local.get $dy) (i32.const 1)))
                        (br $dyLoop)))
                    (v128.store (local.get $y) (local.get $best0))
                    (v128.store offset=16 (local.get $y) (local.get $best1))
                    (v128.store offset=32 (local.get $y) (local.get $best2))
                    (v128.store offset=48 (local.get $y) (local.get $best3))
                    (local.set $y (i32.add (local.get $y) (i32.const 64)))
                    (local.set $fo (i32.add (local.get $fo) (i32.const 16)))
                    (br $wide)))
                (block $narrowDone
                  (loop $narrow
                    (br_if $narrowDone (i32.ge_u (local.get $fo) (local.get $f)))
                    (local.set $best0 (v128.const f32x4 0 0 0 0))
                    (local.set $dy (i32.const 0))
                    (block $dyDone
                      (loop $dyLoop
                        (br_if $dyDone (i32.ge_u (local.get $dy) (local.get $pool)))
                        (local.set $dx (i32.const 0))
                        (block $dxDone
                          (loop $dxLoop
                            (br_if $dxDone (i32.ge_u (local.get $dx) (local.get $pool)))
                            (local.set $acc0 (v128.load (i32.add (local.get $b) (i32.shl (local.get $fo) (i32.const 2)))))
                            (local.set $ky (i32.const 0))
                            (block $kyDone
                              (loop $kyLoop
                                (br_if $kyDone (i32.ge_u (local.get $ky) (local.get $k)))
                                (local.set $xp
                                  (i32.add (local.get $base)
                                    (i32.add (i32.mul (i32.add (local.get $dy) (local.get $ky)) (local.get $rowBytes))
                                      (i32.shl (i32.mul (local.get $dx) (local.get $c)) (i32.const 2)))))
                                (local.set $wp
                                  (i32.add (local.get $w)
                                    (i32.add (i32.mul (local.get $ky) (local.get $wRowBytes)) (i32.shl (local.get $fo) (i32.const 2)))))
                                (local.set $j (i32.const 0))
                                (block $tapsDone
                                  (loop $taps
                                    (br_if $tapsDone (i32.ge_u (local.get $j) (local.get $kc)))
                                    (local.set $acc0
                                      (f32x4.add (local.get $acc0) (f32x4.mul (v128.load32_splat (local.get $xp)) (v128.load (local.get $wp)))))
                                    (local.set $xp (i32.add (local.get $xp) (i32.const 4)))
                                    (local.set $wp (i32.add (local.get $wp) (local.get $fBytes)))
                                    (local.set $j (i32.add (local.get $j) (i32.const 1)))
                                    (br $taps)))
                                (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
                                (br $kyLoop)))
                            (local.set $best0 (f32x4.pmax (local.get $best0) (local.get $acc0)))
                            (local.set $dx (i32.add (local.get $dx) (i32.const 1)))
                            (br $dxLoop)))
                        (local.set $dy (i32.add (local.get $dy) (i32.const 1)))
                        (br $dyLoop)))
                    (v128.store (local.get $y) (local.get $best0))
                    (local.set $y (i32.add (local.get $y) (i32.const 16)))
                    (local.set $fo (i32.add (local.get $fo) (i32.const 4)))
                    (br $narrow)))
                (local.set $px (i32.add (local.get $px) (i32.const 1)))
                (br $columns)))
            (local.set $py (i32.add (local.get $py) (i32.const 1)))
            (br $rows)))
        (local.set $image (i32.add (local.get $image) (i32.const 1)))
        (br $images)))))
