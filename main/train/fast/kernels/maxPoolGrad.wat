;; The max-pool input gradient for 2×2 windows with stride 2 over NHWC float32 data, four channels at a time with
;; wasm SIMD. Each input element belongs to exactly one window, so the gradient is written, not scattered: dy where
;; the element is its window's first largest value in row-major order (the rule of tfjs's MaxPoolGrad), 0 elsewhere.
;; Branch-free: the comparisons become lane masks.
;;
;; maxPool2Grad(x, dy, dx, rows, outWidth, channels): byte offsets of x [rows·2, outWidth·2, channels] (rows =
;; batch × output height), dy [rows, outWidth, channels] and dx (same shape as x); channels a multiple of 4.
;;
;; maxPool2(x, y, rows, outWidth, channels): the forward pass over the same shapes, y [rows, outWidth, channels] the
;; largest of each window (the taped training step's pool: XNNPACK's pool hands a few microseconds of work to its
;; thread pool, which on a shared machine waits for the second core).
;;
;; biasRelu(x, bias, y, pixels, channels): y = relu(x + bias) over [pixels, channels], bias [channels]: the conv
;; stage's bias and activation after its pool, as tfjs's broadcasting Add and Relu compute them (one rounding
;; each; Relu is max(·, 0), so relu(-0) is +0 and NaN stays NaN) without their thread-pool round trips.
;;
;; biasReluGrad(dy, y, dz, db, pixels, channels): dz = dy · step(y) (tfjs's Relu gradient: a product, so a
;; negative dy times 0 is -0 and a NaN input gives NaN, as there) and db = the sum of dz over pixels, each
;; channel from 0 in pixel order (as tfjs's Sum adds a transposed row), y being biasRelu's output (y > 0
;; exactly where x + bias > 0).
(module
  (memory (export "memory") 1)
  (func (export "biasRelu")
    (param $x i32) (param $bias i32) (param $y i32) (param $pixels i32) (param $channels i32)
    (local $end i32) (local $c i32) (local $pixel i32)
    (local.set $pixel (i32.shl (local.get $channels) (i32.const 2)))
    (local.set $end (i32.add (local.get $x) (i32.mul (local.get $pixels) (local.get $pixel))))
    (block $done
      (loop $pixels
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $c (i32.const 0))
        (block $channelsDone
          (loop $channels
            (br_if $channelsDone (i32.ge_u (local.get $c) (local.get $pixel)))
            (v128.store (i32.add (local.get $y) (local.get $c))
              (f32x4.max
                (f32x4.add (v128.load (i32.add (local.get $x) (local.get $c))) (v128.load (i32.add (local.get $bias) (local.get $c))))
                (v128.const f32x4 0 0 0 0)))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $channels)))
        (local.set $x (i32.add (local.get $x) (local.get $pixel)))
        (local.set $y (i32.add (local.get $y) (local.get $pixel)))
        (br $pixels))))
  (func (export "biasReluGrad")
    (param $dy i32) (param $y i32) (param $dz i32) (param $db i32) (param $pixels i32) (param $channels i32)
    (local $end i32) (local $c i32) (local $pixel i32) (local $g v128) (local $v v128)
    (local.set $pixel (i32.shl (local.get $channels) (i32.const 2)))
    (memory.fill (local.get $db) (i32.const 0) (local.get $pixel))
    (local.set $end (i32.add (local.get $dy) (i32.mul (local.get $pixels) (local.get $pixel))))
    (block $done
      (loop $pixels
        (br_if $done (i32.ge_u (local.get $dy) (local.get $end)))
        (local.set $c (i32.const 0))
        (block $channelsDone
          (loop $channels
            (br_if $channelsDone (i32.ge_u (local.get $c) (local.get $pixel)))
            (local.set $v (v128.load (i32.add (local.get $y) (local.get $c))))
            ;; step(y): 1 where y > 0, NaN where y is NaN (as tfjs's Step), else 0
            (local.set $g
              (f32x4.mul
                (v128.load (i32.add (local.get $dy) (local.get $c)))
                (v128.bitselect
                  (local.get $v)
                  (v128.and (f32x4.gt (local.get $v) (v128.const f32x4 0 0 0 0)) (v128.const f32x4 1 1 1 1))
                  (f32x4.ne (local.get $v) (local.get $v)))))
            (v128.store (i32.add (local.get $dz) (local.get $c)) (local.get $g))
            (v128.store (i32.add (local.get $db) (local.get $c))
              (f32x4.add (v128.load (i32.add (local.get $db) (local.get $c))) (local.get $g)))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $channels)))
        (local.set $dy (i32.add (local.get $dy) (local.get $pixel)))
        (local.set $y (i32.add (local.get $y) (local.get $pixel)))
        (local.set $dz (i32.add (local.get $dz) (local.get $pixel)))
        (br $pixels))))
  (func (export "maxPool2")
    (param $x i32) (param $y i32) (param $rows i32) (param $outWidth i32) (param $channels i32)
    (local $pixel i32) (local $below i32) (local $row i32) (local $column i32) (local $lane i32)
    (local.set $pixel (i32.shl (local.get $channels) (i32.const 2)))
    (local.set $below (i32.mul (local.get $pixel) (i32.shl (local.get $outWidth) (i32.const 1))))
    (block $rowsDone
      (loop $rowsLoop
        (br_if $rowsDone (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $column (i32.const 0))
        (block $columnsDone
          (loop $columnsLoop
            (br_if $columnsDone (i32.ge_u (local.get $column) (local.get $outWidth)))
            (local.set $lane (i32.const 0))
            (block $lanesDone
              (loop $lanesLoop
                (br_if $lanesDone (i32.ge_u (local.get $lane) (local.get $pixel)))
                (v128.store (local.get $y)
                  (f32x4.max
                    (f32x4.max (v128.load (local.get $x)) (v128.load (i32.add (local.get $x) (local.get $pixel))))
                    (f32x4.max
                      (v128.load (i32.add (local.get $x) (local.get $below)))
                      (v128.load (i32.add (i32.add (local.get $x) (local.get $below)) (local.get $pixel))))))
                (local.set $x (i32.add (local.get $x) (i32.const 16)))
                (local.set $y (i32.add (local.get $y) (i32.const 16)))
                (local.set $lane (i32.add (local.get $lane) (i32.const 16)))
                (br $lanesLoop)))
            (local.set $x (i32.add (local.get $x) (local.get $pixel)))
            (local.set $column (i32.add (local.get $column) (i32.const 1)))
            (br $columnsLoop)))
        (local.set $x (i32.add (local.get $x) (local.get $below)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rowsLoop))))
  (func (export "maxPool2Grad")
    (param $x i32) (param $dy i32) (param $dx i32) (param $rows i32) (param $outWidth i32) (param $channels i32)
    (local $pixel i32) (local $below i32) (local $row i32) (local $column i32) (local $lane i32)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128) (local $g v128)
    (local $rightWins v128) (local $top v128) (local $lowerRightWins v128) (local $bottom v128) (local $bottomWins v128)
    (local $gTop v128) (local $gBottom v128)
    ;; bytes in one pixel's channels, and in one input row
    (local.set $pixel (i32.shl (local.get $channels) (i32.const 2)))
    (local.set $below (i32.mul (local.get $pixel) (i32.shl (local.get $outWidth) (i32.const 1))))
    (local.set $row (i32.const 0))
    (block $rowsDone
      (loop $rowsLoop
        (br_if $rowsDone (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $column (i32.const 0))
        (block $columnsDone
          (loop $columnsLoop
            (br_if $columnsDone (i32.ge_u (local.get $column) (local.get $outWidth)))
            (local.set $lane (i32.const 0))
            (block $lanesDone
              (loop $lanesLoop
                (br_if $lanesDone (i32.ge_u (local.get $lane) (local.get $pixel)))
                (local.set $a (v128.load (local.get $x)))
                (local.set $b (v128.load (i32.add (local.get $x) (local.get $pixel))))
                (local.set $c (v128.load (i32.add (local.get $x) (local.get $below))))
                (local.set $d (v128.load (i32.add (i32.add (local.get $x) (local.get $below)) (local.get $pixel))))
                (local.set $g (v128.load (local.get $dy)))
                ;; a later candidate wins only when strictly larger
                (local.set $rightWins (f32x4.gt (local.get $b) (local.get $a)))
                (local.set $top (v128.bitselect (local.get $b) (local.get $a) (local.get $rightWins)))
                (local.set $lowerRightWins (f32x4.gt (local.get $d) (local.get $c)))
                (local.set $bottom (v128.bitselect (local.get $d) (local.get $c) (local.get $lowerRightWins)))
                (local.set $bottomWins (f32x4.gt (local.get $bottom) (local.get $top)))
                (local.set $gTop (v128.andnot (local.get $g) (local.get $bottomWins)))
                (local.set $gBottom (v128.and (local.get $g) (local.get $bottomWins)))
                (v128.store (local.get $dx) (v128.andnot (local.get $gTop) (local.get $rightWins)))
                (v128.store (i32.add (local.get $dx) (local.get $pixel)) (v128.and (local.get $gTop) (local.get $rightWins)))
                (v128.store (i32.add (local.get $dx) (local.get $below)) (v128.andnot (local.get $gBottom) (local.get $lowerRightWins)))
                (v128.store (i32.add (i32.add (local.get $dx) (local.get $below)) (local.get $pixel))
                  (v128.and (local.get $gBottom) (local.get $lowerRightWins)))
                (local.set $x (i32.add (local.get $x) (i32.const 16)))
                (local.set $dx (i32.add (local.get $dx) (i32.const 16)))
                (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
                (local.set $lane (i32.add (local.get $lane) (i32.const 16)))
                (br $lanesLoop)))
            ;; past the window's right pixel
            (local.set $x (i32.add (local.get $x) (local.get $pixel)))
            (local.set $dx (i32.add (local.get $dx) (local.get $pixel)))
            (local.set $column (i32.add (local.get $column) (i32.const 1)))
            (br $columnsLoop)))
        ;; past the window's lower row
        (local.set $x (i32.add (local.get $x) (local.get $below)))
        (local.set $dx (i32.add (local.get $dx) (local.get $below)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rowsLoop)))))
