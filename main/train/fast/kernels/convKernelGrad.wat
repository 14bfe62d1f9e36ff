;; One slice of a stride-1 conv's kernel gradient, dk[i, j, c, f0..f0+w) = Σ over the batch and the output pixels
;; of x[b, y+i-pad, x+j-pad, c] · dy[b, y, x, f0..f0+w), with w = 16 (dot16) or 4 (dot4) filters in wasm SIMD
;; registers. The caller (kernels/index.ts) loops over i, j, c and the filter slices and clips the output rows and
;; columns to those whose window pixel lies inside the image, so no padding is read. Why: for images with few
;; channels (grey, RGB) this gradient is a long dot product (25,088 terms for 32 images of 28×28) with few
;; outputs, which XNNPACK runs slowly as a conv and a matMul must first pack a fresh operand of that length.
;;
;; Arguments are byte offsets and byte strides: x and dy at the first (batch 0, first row, first column) term,
;; then batches, rows and columns to visit, the strides of x and of dy per batch, row and column, and where to
;; store the w sums.
(module
  (memory (export "memory") 1)
  (func (export "dot16")
    (param $x i32) (param $dy i32) (param $batches i32) (param $rows i32) (param $columns i32)
    (param $xBatch i32) (param $xRow i32) (param $xColumn i32)
    (param $dyBatch i32) (param $dyRow i32) (param $dyColumn i32) (param $out i32)
    (local $b i32) (local $r i32) (local $c i32) (local $xp i32) (local $dyp i32) (local $v v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (block $batchesDone
      (loop $batchesLoop
        (br_if $batchesDone (i32.ge_u (local.get $b) (local.get $batches)))
        (local.set $r (i32.const 0))
        (block $rowsDone
          (loop $rowsLoop
            (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
            (local.set $xp (i32.add (local.get $x) (i32.add (i32.mul (local.get $b) (local.get $xBatch)) (i32.mul (local.get $r) (local.get $xRow)))))
            (local.set $dyp (i32.add (local.get $dy) (i32.add (i32.mul (local.get $b) (local.get $dyBatch)) (i32.mul (local.get $r) (local.get $dyRow)))))
            (local.set $c (i32.const 0))
            (block $columnsDone
              (loop $columnsLoop
                (br_if $columnsDone (i32.ge_u (local.get $c) (local.get $columns)))
                (local.set $v (v128.load32_splat (local.get $xp)))
                (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $v) (v128.load (local.get $dyp)))))
                (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (local.get $v) (v128.load offset=16 (local.get $dyp)))))
                (local.set $s2 (f32x4.add (local.get $s2) (f32x4.mul (local.get $v) (v128.load offset=32 (local.get $dyp)))))
                (local.set $s3 (f32x4.add (local.get $s3) (f32x4.mul (local.get $v) (v128.load offset=48 (local.get $dyp)))))
                (local.set $xp (i32.add (local.get $xp) (local.get $xColumn)))
                (local.set $dyp (i32.add (local.get $dyp) (local.get $dyColumn)))
                (local.set $c (i32.add (local.get $c) (i32.const 1)))
                (br $columnsLoop)))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $rowsLoop)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $batchesLoop)))
    (v128.store (local.get $out) (local.get $s0))
    (v128.store offset=16 (local.get $out) (local.get $s1))
    (v128.store offset=32 (local.get $out) (local.get $s2))
    (v128.store offset=48 (local.get $out) (local.get $s3)))
  (func (export "dot4")
    (param $x i32) (param $dy i32) (param $batches i32) (param $rows i32) (param $columns i32)
    (param $xBatch i32) (param $xRow i32) (param $xColumn i32)
    (param $dyBatch i32) (param $dyRow i32) (param $dyColumn i32) (param $out i32)
    (local $b i32) (local $r i32) (local $c i32) (local $xp i32) (local $dyp i32) (local $s0 v128)
    (block $batchesDone
      (loop $batchesLoop
        (br_if $batchesDone (i32.ge_u (local.get $b) (local.get $batches)))
        (local.set $r (i32.const 0))
        (block $rowsDone
          (loop $rowsLoop
            (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
            (local.set $xp (i32.add (local.get $x) (i32.add (i32.mul (local.get $b) (local.get $xBatch)) (i32.mul (local.get $r) (local.get $xRow)))))
            (local.set $dyp (i32.add (local.get $dy) (i32.add (i32.mul (local.get $b) (local.get $dyBatch)) (i32.mul (local.get $r) (local.get $dyRow)))))
            (local.set $c (i32.const 0))
            (block $columnsDone
              (loop $columnsLoop
                (br_if $columnsDone (i32.ge_u (local.get $c) (local.get $columns)))
                (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (v128.load32_splat (local.get $xp)) (v128.load (local.get $dyp)))))
                (local.set $xp (i32.add (local.get $xp) (local.get $xColumn)))
                (local.set $dyp (i32.add (local.get $dyp) (local.get $dyColumn)))
                (local.set $c (i32.add (local.get $c) (i32.const 1)))
                (br $columnsLoop)))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $rowsLoop)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $batchesLoop)))
    (v128.store (local.get $out) (local.get $s0))))
