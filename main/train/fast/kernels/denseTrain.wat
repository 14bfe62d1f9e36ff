;; The dense-chain training step's arithmetic (fast/fusedDense.ts), on weights, optimizer state, activations and
;; gradients that live in this module's memory for the whole stage: matrix products with the bias and relu/relu6
;; folded in, the activation and bias gradients, a transpose, the batch gather and the sgd/momentum/adam updates.
;; The loss (softmax cross-entropy, MSE, Huber) stays in JavaScript over views of this memory (objective.ts).
;;
;; Why: at the sizes LayerLab trains (batches of 32-200 rows, layers of 10-256 units) a batch through tfjs is
;; mostly per-op overhead (dispatch, tensor bookkeeping, allocations, the optimizer's copies): see issue 20's note.
;; Here a batch is about twenty calls into this module and no allocation.
;;
;; gemm walks the output in blocks of 4 rows. Its tiles keep up to 8 output vectors in v128 locals and walk k,
;; loading one row of B per step (one vector per 4 columns) and broadcasting one element of A per output row: 2 × 16
;; (8 accumulators, 4 + 2 loads) across the block's columns 16 at a time, then 4 × 8 (8 accumulators, 2 + 4 loads),
;; then 4 × 4 stored in part. Why those shapes: V8's TurboFan keeps 15 of x64's 16 vector registers for locals and
;; schedules every load of a loop body before its arithmetic, so a tile's accumulators plus its loads per step must
;; fit in 15 or accumulators spill to the stack every step. The former 5 × 8 tile (10 + 7 = 17) spilled two and ran
;; 20-24 GFLOP/s on the 2-core AMD EPYC; these run 40-50 (issue 20's note, Session 5). 3 × 12 (9 + 6) measured
;; about as fast on 100 columns and slower on 32 and 10; 6 × 8 (12 + 8) spills and was slower than 5 × 8.
;; Every output element is still one accumulator that starts from 0, C (mode 1) or the bias (mode 2) and adds
;; A[m, k]·B[k, n] for k ascending with the same instructions in every tile, so the tile an element falls in (and
;; so the shape of the product, or a cut of its rows between threads) never changes its bits.
;; scripts/build-kernels.mjs also builds a variant with f32x4.relaxed_madd (one fused multiply-add instead of the
;; f32x4.add / f32x4.mul pair): kernels/index.ts uses it where the runtime has relaxed SIMD.
;;
;; Every buffer the caller hands in has 16 bytes of slack after it: the last vector of a row may read (and the
;; column sum may write) up to 3 floats past the end; those lanes are never stored into another buffer's data.
;; Offsets and strides are in bytes.
(module
  (memory (export "memory") 1)

  ;; Stores the first `lanes` (1-4) floats of v at p.
  (func $storeLanes (param $p i32) (param $v v128) (param $lanes i32)
    (if (i32.ge_u (local.get $lanes) (i32.const 4))
      (then (v128.store (local.get $p) (local.get $v)) (return)))
    (v128.store32_lane 0 (local.get $p) (local.get $v))
    (if (i32.ge_u (local.get $lanes) (i32.const 2)) (then (v128.store32_lane offset=4 1 (local.get $p) (local.get $v))))
    (if (i32.ge_u (local.get $lanes) (i32.const 3)) (then (v128.store32_lane offset=8 2 (local.get $p) (local.get $v)))))

  ;; C (M × N) = A·B (mode 0), C + A·B (mode 1) or bias + A·B (mode 2), then relu (act 1) or relu6 (act 2).
  ;; A (m, k) is at a + m·am + k·ak, so A may be stored transposed (dW = xᵀ·dz); B (k, n) at b + k·ldb + 4n;
  ;; C (m, n) at c + m·ldc + 4n; the bias (n) at bias + 4n.
  (func (export "gemm")
    (param $c i32) (param $a i32) (param $b i32) (param $bias i32) (param $M i32) (param $N i32) (param $K i32)
    (param $am i32) (param $ak i32) (param $ldb i32) (param $ldc i32) (param $mode i32) (param $act i32)
    (local $m i32) (local $n i32) (local $cRow i32) (local $aRow i32) (local $left i32)
    ;; blocks of 4 rows: 16 columns at a time in two 2×16 tiles, then one 4×8 tile where 8 or more columns are
    ;; left, then 4×4 tiles, the last one stored in part
    (block $blocksDone
      (loop $blocks
        (br_if $blocksDone (i32.gt_u (i32.add (local.get $m) (i32.const 4)) (local.get $M)))
        (local.set $cRow (i32.add (local.get $c) (i32.mul (local.get $m) (local.get $ldc))))
        (local.set $aRow (i32.add (local.get $a) (i32.mul (local.get $m) (local.get $am))))
        (local.set $n (i32.const 0))
        (block $wideDone
          (loop $wide
            (br_if $wideDone (i32.gt_u (i32.add (local.get $n) (i32.const 16)) (local.get $N)))
            (call $tile2x16
              (i32.add (local.get $cRow) (i32.shl (local.get $n) (i32.const 2))) (local.get $aRow)
              (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))) (i32.add (local.get $bias) (i32.shl (local.get $n) (i32.const 2)))
              (local.get $K) (local.get $am) (local.get $ak) (local.get $ldb) (local.get $ldc) (local.get $mode) (local.get $act))
            (call $tile2x16
              (i32.add (i32.add (local.get $cRow) (i32.mul (local.get $ldc) (i32.const 2))) (i32.shl (local.get $n) (i32.const 2))) (i32.add (local.get $aRow) (i32.mul (local.get $am) (i32.const 2)))
              (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))) (i32.add (local.get $bias) (i32.shl (local.get $n) (i32.const 2)))
              (local.get $K) (local.get $am) (local.get $ak) (local.get $ldb) (local.get $ldc) (local.get $mode) (local.get $act))
            (local.set $n (i32.add (local.get $n) (i32.const 16)))
            (br $wide)))
        (if (i32.le_u (i32.add (local.get $n) (i32.const 8)) (local.get $N))
          (then
            (call $tile4x8
              (i32.add (local.get $cRow) (i32.shl (local.get $n) (i32.const 2))) (local.get $aRow)
              (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))) (i32.add (local.get $bias) (i32.shl (local.get $n) (i32.const 2)))
              (local.get $K) (local.get $am) (local.get $ak) (local.get $ldb) (local.get $ldc) (local.get $mode) (local.get $act))
            (local.set $n (i32.add (local.get $n) (i32.const 8)))))
        (block $narrowDone
          (loop $narrow
            (local.set $left (i32.sub (local.get $N) (local.get $n)))
            (br_if $narrowDone (i32.le_s (local.get $left) (i32.const 0)))
            (call $tile4x4Masked
              (i32.add (local.get $cRow) (i32.shl (local.get $n) (i32.const 2))) (local.get $aRow)
              (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))) (i32.add (local.get $bias) (i32.shl (local.get $n) (i32.const 2)))
              (local.get $K) (local.get $am) (local.get $ak) (local.get $ldb) (local.get $ldc) (local.get $mode) (local.get $act) (local.get $left))
            (local.set $n (i32.add (local.get $n) (i32.const 4)))
            (br $narrow)))
        (local.set $m (i32.add (local.get $m) (i32.const 4)))
        (br $blocks)))
    ;; then the last 2 or 3 rows: 2 alike
    (block $blocksDone
      (loop $blocks
        (br_if $blocksDone (i32.gt_u (i32.add (local.get $m) (i32.const 2)) (local.get $M)))
        (local.set $cRow (i32.add (local.get $c) (i32.mul (local.get $m) (local.get $ldc))))
        (local.set $aRow (i32.add (local.get $a) (i32.mul (local.get $m) (local.get $am))))
        (local.set $n (i32.const 0))
        (block $wideDone
          (loop $wide
            (br_if $wideDone (i32.gt_u (i32.add (local.get $n) (i32.const 16)) (local.get $N)))
            (call $tile2x16
              (i32.add (local.get $cRow) (i32.shl (local.get $n) (i32.const 2))) (local.get $aRow)
              (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))) (i32.add (local.get $bias) (i32.shl (local.get $n) (i32.const 2)))
              (local.get $K) (local.get $am) (local.get $ak) (local.get $ldb) (local.get $ldc) (local.get $mode) (local.get $act))
            (local.set $n (i32.add (local.get $n) (i32.const 16)))
            (br $wide)))
        (if (i32.le_u (i32.add (local.get $n) (i32.const 8)) (local.get $N))
          (then
            (call $tile2x8
              (i32.add (local.get $cRow) (i32.shl (local.get $n) (i32.const 2))) (local.get $aRow)
              (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))) (i32.add (local.get $bias) (i32.shl (local.get $n) (i32.const 2)))
              (local.get $K) (local.get $am) (local.get $ak) (local.get $ldb) (local.get $ldc) (local.get $mode) (local.get $act))
            (local.set $n (i32.add (local.get $n) (i32.const 8)))))
        (block $narrowDone
          (loop $narrow
            (local.set $left (i32.sub (local.get $N) (local.get $n)))
            (br_if $narrowDone (i32.le_s (local.get $left) (i32.const 0)))
            (call $tile2x4Masked
              (i32.add (local.get $cRow) (i32.shl (local.get $n) (i32.const 2))) (local.get $aRow)
              (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))) (i32.add (local.get $bias) (i32.shl (local.get $n) (i32.const 2)))
              (local.get $K) (local.get $am) (local.get $ak) (local.get $ldb) (local.get $ldc) (local.get $mode) (local.get $act) (local.get $left))
            (local.set $n (i32.add (local.get $n) (i32.const 4)))
            (br $narrow)))
        (local.set $m (i32.add (local.get $m) (i32.const 2)))
        (br $blocks)))
    ;; then the last row
    (block $blocksDone
      (loop $blocks
        (br_if $blocksDone (i32.gt_u (i32.add (local.get $m) (i32.const 1)) (local.get $M)))
        (local.set $cRow (i32.add (local.get $c) (i32.mul (local.get $m) (local.get $ldc))))
        (local.set $aRow (i32.add (local.get $a) (i32.mul (local.get $m) (local.get $am))))
        (local.set $n (i32.const 0))
        (block $wideDone
          (loop $wide
            (br_if $wideDone (i32.gt_u (i32.add (local.get $n) (i32.const 16)) (local.get $N)))
            (call $tile1x16
              (i32.add (local.get $cRow) (i32.shl (local.get $n) (i32.const 2))) (local.get $aRow)
              (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))) (i32.add (local.get $bias) (i32.shl (local.get $n) (i32.const 2)))
              (local.get $K) (local.get $am) (local.get $ak) (local.get $ldb) (local.get $ldc) (local.get $mode) (local.get $act))
            (local.set $n (i32.add (local.get $n) (i32.const 16)))
            (br $wide)))
        (if (i32.le_u (i32.add (local.get $n) (i32.const 8)) (local.get $N))
          (then
            (call $tile1x8
              (i32.add (local.get $cRow) (i32.shl (local.get $n) (i32.const 2))) (local.get $aRow)
              (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))) (i32.add (local.get $bias) (i32.shl (local.get $n) (i32.const 2)))
              (local.get $K) (local.get $am) (local.get $ak) (local.get $ldb) (local.get $ldc) (local.get $mode) (local.get $act))
            (local.set $n (i32.add (local.get $n) (i32.const 8)))))
        (block $narrowDone
          (loop $narrow
            (local.set $left (i32.sub (local.get $N) (local.get $n)))
            (br_if $narrowDone (i32.le_s (local.get $left) (i32.const 0)))
            (call $tile1x4Masked
              (i32.add (local.get $cRow) (i32.shl (local.get $n) (i32.const 2))) (local.get $aRow)
              (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))) (i32.add (local.get $bias) (i32.shl (local.get $n) (i32.const 2)))
              (local.get $K) (local.get $am) (local.get $ak) (local.get $ldb) (local.get $ldc) (local.get $mode) (local.get $act) (local.get $left))
            (local.set $n (i32.add (local.get $n) (i32.const 4)))
            (br $narrow)))
        (local.set $m (i32.add (local.get $m) (i32.const 1)))
        (br $blocks)))
  )

  ;; The tiles of gemm: R rows × 4V columns of C in registers; a Masked tile stores only the first $lanes columns of its last vector.
  (func $tile2x16
    (param $c i32) (param $a i32) (param $b i32) (param $bias i32) (param $K i32) (param $am i32) (param $ak i32)
    (param $ldb i32) (param $ldc i32) (param $mode i32) (param $act i32)
    (local $c00 v128) (local $c01 v128) (local $c02 v128) (local $c03 v128) (local $c10 v128) (local $c11 v128) (local $c12 v128) (local $c13 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128) (local $x v128) (local $a1 i32)
    (if (i32.eq (local.get $mode) (i32.const 1))
      (then
        (local.set $c00 (v128.load offset=0 (local.get $c)))
        (local.set $c01 (v128.load offset=16 (local.get $c)))
        (local.set $c02 (v128.load offset=32 (local.get $c)))
        (local.set $c03 (v128.load offset=48 (local.get $c)))
        (local.set $c10 (v128.load offset=0 (i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const 1)))))
        (local.set $c11 (v128.load offset=16 (i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const 1)))))
        (local.set $c12 (v128.load offset=32 (i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const 1)))))
        (local.set $c13 (v128.load offset=48 (i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const 1)))))
      )
      (else
        (if (i32.eq (local.get $mode) (i32.const 2))
          (then
            (local.set $b0 (v128.load offset=0 (local.get $bias)))
            (local.set $b1 (v128.load offset=16 (local.get $bias)))
            (local.set $b2 (v128.load offset=32 (local.get $bias)))
            (local.set $b3 (v128.load offset=48 (local.get $bias)))
            (local.set $c00 (local.get $b0)) (local.set $c01 (local.get $b1)) (local.set $c02 (local.get $b2)) (local.set $c03 (local.get $b3))
            (local.set $c10 (local.get $b0)) (local.set $c11 (local.get $b1)) (local.set $c12 (local.get $b2)) (local.set $c13 (local.get $b3))
          ))))
    (local.set $a1 (i32.add (local.get $a) (local.get $am)))
    (block $done
      (loop $k
        (br_if $done (i32.eqz (local.get $K)))
        (local.set $b0 (v128.load offset=0 (local.get $b)))
        (local.set $b1 (v128.load offset=16 (local.get $b)))
        (local.set $b2 (v128.load offset=32 (local.get $b)))
        (local.set $b3 (v128.load offset=48 (local.get $b)))
        (local.set $x (v128.load32_splat (local.get $a)))
        (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $c02 (f32x4.add (local.get $c02) (f32x4.mul (local.get $x) (local.get $b2))))
        (local.set $c03 (f32x4.add (local.get $c03) (f32x4.mul (local.get $x) (local.get $b3))))
        (local.set $x (v128.load32_splat (local.get $a1)))
        (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $c12 (f32x4.add (local.get $c12) (f32x4.mul (local.get $x) (local.get $b2))))
        (local.set $c13 (f32x4.add (local.get $c13) (f32x4.mul (local.get $x) (local.get $b3))))
        (local.set $a (i32.add (local.get $a) (local.get $ak))) (local.set $a1 (i32.add (local.get $a1) (local.get $ak)))
        (local.set $b (i32.add (local.get $b) (local.get $ldb)))
        (local.set $K (i32.sub (local.get $K) (i32.const 1)))
        (br $k)))
    (if (local.get $act)
      (then
        (local.set $c00 (f32x4.pmax (local.get $c00) (v128.const f32x4 0 0 0 0))) (local.set $c01 (f32x4.pmax (local.get $c01) (v128.const f32x4 0 0 0 0))) (local.set $c02 (f32x4.pmax (local.get $c02) (v128.const f32x4 0 0 0 0))) (local.set $c03 (f32x4.pmax (local.get $c03) (v128.const f32x4 0 0 0 0)))
        (local.set $c10 (f32x4.pmax (local.get $c10) (v128.const f32x4 0 0 0 0))) (local.set $c11 (f32x4.pmax (local.get $c11) (v128.const f32x4 0 0 0 0))) (local.set $c12 (f32x4.pmax (local.get $c12) (v128.const f32x4 0 0 0 0))) (local.set $c13 (f32x4.pmax (local.get $c13) (v128.const f32x4 0 0 0 0)))
        (if (i32.eq (local.get $act) (i32.const 2))
          (then
            (local.set $c00 (f32x4.pmin (local.get $c00) (v128.const f32x4 6 6 6 6))) (local.set $c01 (f32x4.pmin (local.get $c01) (v128.const f32x4 6 6 6 6))) (local.set $c02 (f32x4.pmin (local.get $c02) (v128.const f32x4 6 6 6 6))) (local.set $c03 (f32x4.pmin (local.get $c03) (v128.const f32x4 6 6 6 6)))
            (local.set $c10 (f32x4.pmin (local.get $c10) (v128.const f32x4 6 6 6 6))) (local.set $c11 (f32x4.pmin (local.get $c11) (v128.const f32x4 6 6 6 6))) (local.set $c12 (f32x4.pmin (local.get $c12) (v128.const f32x4 6 6 6 6))) (local.set $c13 (f32x4.pmin (local.get $c13) (v128.const f32x4 6 6 6 6)))
          ))))
    (v128.store offset=0 (local.get $c) (local.get $c00))
    (v128.store offset=16 (local.get $c) (local.get $c01))
    (v128.store offset=32 (local.get $c) (local.get $c02))
    (v128.store offset=48 (local.get $c) (local.get $c03))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (v128.store offset=0 (local.get $c) (local.get $c10))
    (v128.store offset=16 (local.get $c) (local.get $c11))
    (v128.store offset=32 (local.get $c) (local.get $c12))
    (v128.store offset=48 (local.get $c) (local.get $c13))
  )

  (func $tile4x8
    (param $c i32) (param $a i32) (param $b i32) (param $bias i32) (param $K i32) (param $am i32) (param $ak i32)
    (param $ldb i32) (param $ldc i32) (param $mode i32) (param $act i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128) (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $x v128) (local $a1 i32) (local $a2 i32) (local $a3 i32)
    (if (i32.eq (local.get $mode) (i32.const 1))
      (then
        (local.set $c00 (v128.load offset=0 (local.get $c)))
        (local.set $c01 (v128.load offset=16 (local.get $c)))
        (local.set $c10 (v128.load offset=0 (i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const 1)))))
        (local.set $c11 (v128.load offset=16 (i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const 1)))))
        (local.set $c20 (v128.load offset=0 (i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const 2)))))
        (local.set $c21 (v128.load offset=16 (i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const 2)))))
        (local.set $c30 (v128.load offset=0 (i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const 3)))))
        (local.set $c31 (v128.load offset=16 (i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const 3)))))
      )
      (else
        (if (i32.eq (local.get $mode) (i32.const 2))
          (then
            (local.set $b0 (v128.load offset=0 (local.get $bias)))
            (local.set $b1 (v128.load offset=16 (local.get $bias)))
            (local.set $c00 (local.get $b0)) (local.set $c01 (local.get $b1))
            (local.set $c10 (local.get $b0)) (local.set $c11 (local.get $b1))
            (local.set $c20 (local.get $b0)) (local.set $c21 (local.get $b1))
            (local.set $c30 (local.get $b0)) (local.set $c31 (local.get $b1))
          ))))
    (local.set $a1 (i32.add (local.get $a) (local.get $am)))
    (local.set $a2 (i32.add (local.get $a1) (local.get $am)))
    (local.set $a3 (i32.add (local.get $a2) (local.get $am)))
    (block $done
      (loop $k
        (br_if $done (i32.eqz (local.get $K)))
        (local.set $b0 (v128.load offset=0 (local.get $b)))
        (local.set $b1 (v128.load offset=16 (local.get $b)))
        (local.set $x (v128.load32_splat (local.get $a)))
        (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat (local.get $a1)))
        (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat (local.get $a2)))
        (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat (local.get $a3)))
        (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $a (i32.add (local.get $a) (local.get $ak))) (local.set $a1 (i32.add (local.get $a1) (local.get $ak))) (local.set $a2 (i32.add (local.get $a2) (local.get $ak))) (local.set $a3 (i32.add (local.get $a3) (local.get $ak)))
        (local.set $b (i32.add (local.get $b) (local.get $ldb)))
        (local.set $K (i32.sub (local.get $K) (i32.const 1)))
        (br $k)))
    (if (local.get $act)
      (then
        (local.set $c00 (f32x4.pmax (local.get $c00) (v128.const f32x4 0 0 0 0))) (local.set $c01 (f32x4.pmax (local.get $c01) (v128.const f32x4 0 0 0 0)))
        (local.set $c10 (f32x4.pmax (local.get $c10) (v128.const f32x4 0 0 0 0))) (local.set $c11 (f32x4.pmax (local.get $c11) (v128.const f32x4 0 0 0 0)))
        (local.set $c20 (f32x4.pmax (local.get $c20) (v128.const f32x4 0 0 0 0))) (local.set $c21 (f32x4.pmax (local.get $c21) (v128.const f32x4 0 0 0 0)))
        (local.set $c30 (f32x4.pmax (local.get $c30) (v128.const f32x4 0 0 0 0))) (local.set $c31 (f32x4.pmax (local.get $c31) (v128.const f32x4 0 0 0 0)))
        (if (i32.eq (local.get $act) (i32.const 2))
          (then
            (local.set $c00 (f32x4.pmin (local.get $c00) (v128.const f32x4 6 6 6 6))) (local.set $c01 (f32x4.pmin (local.get $c01) (v128.const f32x4 6 6 6 6)))
            (local.set $c10 (f32x4.pmin (local.get $c10) (v128.const f32x4 6 6 6 6))) (local.set $c11 (f32x4.pmin (local.get $c11) (v128.const f32x4 6 6 6 6)))
            (local.set $c20 (f32x4.pmin (local.get $c20) (v128.const f32x4 6 6 6 6))) (local.set $c21 (f32x4.pmin (local.get $c21) (v128.const f32x4 6 6 6 6)))
            (local.set $c30 (f32x4.pmin (local.get $c30) (v128.const f32x4 6 6 6 6))) (local.set $c31 (f32x4.pmin (local.get $c31) (v128.const f32x4 6 6 6 6)))
          ))))
    (v128.store offset=0 (local.get $c) (local.get $c00))
    (v128.store offset=16 (local.get $c) (local.get $c01))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (v128.store offset=0 (local.get $c) (local.get $c10))
    (v128.store offset=16 (local.get $c) (local.get $c11))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (v128.store offset=0 (local.get $c) (local.get $c20))
    (v128.store offset=16 (local.get $c) (local.get $c21))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (v128.store offset=0 (local.get $c) (local.get $c30))
    (v128.store offset=16 (local.get $c) (local.get $c31))
  )

  (func $tile4x4Masked
    (param $c i32) (param $a i32) (param $b i32) (param $bias i32) (param $K i32) (param $am i32) (param $ak i32)
    (param $ldb i32) (param $ldc i32) (param $mode i32) (param $act i32) (param $lanes i32)
    (local $c00 v128) (local $c10 v128) (local $c20 v128) (local $c30 v128)
    (local $b0 v128) (local $x v128) (local $a1 i32) (local $a2 i32) (local $a3 i32)
    (if (i32.eq (local.get $mode) (i32.const 1))
      (then
        (local.set $c00 (v128.load offset=0 (local.get $c)))
        (local.set $c10 (v128.load offset=0 (i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const 1)))))
        (local.set $c20 (v128.load offset=0 (i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const 2)))))
        (local.set $c30 (v128.load offset=0 (i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const 3)))))
      )
      (else
        (if (i32.eq (local.get $mode) (i32.const 2))
          (then
            (local.set $b0 (v128.load offset=0 (local.get $bias)))
            (local.set $c00 (local.get $b0))
            (local.set $c10 (local.get $b0))
            (local.set $c20 (local.get $b0))
            (local.set $c30 (local.get $b0))
          ))))
    (local.set $a1 (i32.add (local.get $a) (local.get $am)))
    (local.set $a2 (i32.add (local.get $a1) (local.get $am)))
    (local.set $a3 (i32.add (local.get $a2) (local.get $am)))
    (block $done
      (loop $k
        (br_if $done (i32.eqz (local.get $K)))
        (local.set $b0 (v128.load offset=0 (local.get $b)))
        (local.set $x (v128.load32_splat (local.get $a)))
        (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $x (v128.load32_splat (local.get $a1)))
        (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $x (v128.load32_splat (local.get $a2)))
        (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $x (v128.load32_splat (local.get $a3)))
        (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $a (i32.add (local.get $a) (local.get $ak))) (local.set $a1 (i32.add (local.get $a1) (local.get $ak))) (local.set $a2 (i32.add (local.get $a2) (local.get $ak))) (local.set $a3 (i32.add (local.get $a3) (local.get $ak)))
        (local.set $b (i32.add (local.get $b) (local.get $ldb)))
        (local.set $K (i32.sub (local.get $K) (i32.const 1)))
        (br $k)))
    (if (local.get $act)
      (then
        (local.set $c00 (f32x4.pmax (local.get $c00) (v128.const f32x4 0 0 0 0)))
        (local.set $c10 (f32x4.pmax (local.get $c10) (v128.const f32x4 0 0 0 0)))
        (local.set $c20 (f32x4.pmax (local.get $c20) (v128.const f32x4 0 0 0 0)))
        (local.set $c30 (f32x4.pmax (local.get $c30) (v128.const f32x4 0 0 0 0)))
        (if (i32.eq (local.get $act) (i32.const 2))
          (then
            (local.set $c00 (f32x4.pmin (local.get $c00) (v128.const f32x4 6 6 6 6)))
            (local.set $c10 (f32x4.pmin (local.get $c10) (v128.const f32x4 6 6 6 6)))
            (local.set $c20 (f32x4.pmin (local.get $c20) (v128.const f32x4 6 6 6 6)))
            (local.set $c30 (f32x4.pmin (local.get $c30) (v128.const f32x4 6 6 6 6)))
          ))))
    (call $storeLanes (i32.add (local.get $c) (i32.const 0)) (local.get $c00) (local.get $lanes))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $storeLanes (i32.add (local.get $c) (i32.const 0)) (local.get $c10) (local.get $lanes))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $storeLanes (i32.add (local.get $c) (i32.const 0)) (local.get $c20) (local.get $lanes))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $storeLanes (i32.add (local.get $c) (i32.const 0)) (local.get $c30) (local.get $lanes))
  )

  (func $tile2x8
    (param $c i32) (param $a i32) (param $b i32) (param $bias i32) (param $K i32) (param $am i32) (param $ak i32)
    (param $ldb i32) (param $ldc i32) (param $mode i32) (param $act i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $b0 v128) (local $b1 v128) (local $x v128) (local $a1 i32)
    (if (i32.eq (local.get $mode) (i32.const 1))
      (then
        (local.set $c00 (v128.load offset=0 (local.get $c)))
        (local.set $c01 (v128.load offset=16 (local.get $c)))
        (local.set $c10 (v128.load offset=0 (i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const 1)))))
        (local.set $c11 (v128.load offset=16 (i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const 1)))))
      )
      (else
        (if (i32.eq (local.get $mode) (i32.const 2))
          (then
            (local.set $b0 (v128.load offset=0 (local.get $bias)))
            (local.set $b1 (v128.load offset=16 (local.get $bias)))
            (local.set $c00 (local.get $b0)) (local.set $c01 (local.get $b1))
            (local.set $c10 (local.get $b0)) (local.set $c11 (local.get $b1))
          ))))
    (local.set $a1 (i32.add (local.get $a) (local.get $am)))
    (block $done
      (loop $k
        (br_if $done (i32.eqz (local.get $K)))
        (local.set $b0 (v128.load offset=0 (local.get $b)))
        (local.set $b1 (v128.load offset=16 (local.get $b)))
        (local.set $x (v128.load32_splat (local.get $a)))
        (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat (local.get $a1)))
        (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $a (i32.add (local.get $a) (local.get $ak))) (local.set $a1 (i32.add (local.get $a1) (local.get $ak)))
        (local.set $b (i32.add (local.get $b) (local.get $ldb)))
        (local.set $K (i32.sub (local.get $K) (i32.const 1)))
        (br $k)))
    (if (local.get $act)
      (then
        (local.set $c00 (f32x4.pmax (local.get $c00) (v128.const f32x4 0 0 0 0))) (local.set $c01 (f32x4.pmax (local.get $c01) (v128.const f32x4 0 0 0 0)))
        (local.set $c10 (f32x4.pmax (local.get $c10) (v128.const f32x4 0 0 0 0))) (local.set $c11 (f32x4.pmax (local.get $c11) (v128.const f32x4 0 0 0 0)))
        (if (i32.eq (local.get $act) (i32.const 2))
          (then
            (local.set $c00 (f32x4.pmin (local.get $c00) (v128.const f32x4 6 6 6 6))) (local.set $c01 (f32x4.pmin (local.get $c01) (v128.const f32x4 6 6 6 6)))
            (local.set $c10 (f32x4.pmin (local.get $c10) (v128.const f32x4 6 6 6 6))) (local.set $c11 (f32x4.pmin (local.get $c11) (v128.const f32x4 6 6 6 6)))
          ))))
    (v128.store offset=0 (local.get $c) (local.get $c00))
    (v128.store offset=16 (local.get $c) (local.get $c01))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (v128.store offset=0 (local.get $c) (local.get $c10))
    (v128.store offset=16 (local.get $c) (local.get $c11))
  )

  (func $tile2x4Masked
    (param $c i32) (param $a i32) (param $b i32) (param $bias i32) (param $K i32) (param $am i32) (param $ak i32)
    (param $ldb i32) (param $ldc i32) (param $mode i32) (param $act i32) (param $lanes i32)
    (local $c00 v128) (local $c10 v128)
    (local $b0 v128) (local $x v128) (local $a1 i32)
    (if (i32.eq (local.get $mode) (i32.const 1))
      (then
        (local.set $c00 (v128.load offset=0 (local.get $c)))
        (local.set $c10 (v128.load offset=0 (i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const 1)))))
      )
      (else
        (if (i32.eq (local.get $mode) (i32.const 2))
          (then
            (local.set $b0 (v128.load offset=0 (local.get $bias)))
            (local.set $c00 (local.get $b0))
            (local.set $c10 (local.get $b0))
          ))))
    (local.set $a1 (i32.add (local.get $a) (local.get $am)))
    (block $done
      (loop $k
        (br_if $done (i32.eqz (local.get $K)))
        (local.set $b0 (v128.load offset=0 (local.get $b)))
        (local.set $x (v128.load32_splat (local.get $a)))
        (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $x (v128.load32_splat (local.get $a1)))
        (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $a (i32.add (local.get $a) (local.get $ak))) (local.set $a1 (i32.add (local.get $a1) (local.get $ak)))
        (local.set $b (i32.add (local.get $b) (local.get $ldb)))
        (local.set $K (i32.sub (local.get $K) (i32.const 1)))
        (br $k)))
    (if (local.get $act)
      (then
        (local.set $c00 (f32x4.pmax (local.get $c00) (v128.const f32x4 0 0 0 0)))
        (local.set $c10 (f32x4.pmax (local.get $c10) (v128.const f32x4 0 0 0 0)))
        (if (i32.eq (local.get $act) (i32.const 2))
          (then
            (local.set $c00 (f32x4.pmin (local.get $c00) (v128.const f32x4 6 6 6 6)))
            (local.set $c10 (f32x4.pmin (local.get $c10) (v128.const f32x4 6 6 6 6)))
          ))))
    (call $storeLanes (i32.add (local.get $c) (i32.const 0)) (local.get $c00) (local.get $lanes))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $storeLanes (i32.add (local.get $c) (i32.const 0)) (local.get $c10) (local.get $lanes))
  )

  (func $tile1x16
    (param $c i32) (param $a i32) (param $b i32) (param $bias i32) (param $K i32) (param $am i32) (param $ak i32)
    (param $ldb i32) (param $ldc i32) (param $mode i32) (param $act i32)
    (local $c00 v128) (local $c01 v128) (local $c02 v128) (local $c03 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128) (local $x v128) 
    (if (i32.eq (local.get $mode) (i32.const 1))
      (then
        (local.set $c00 (v128.load offset=0 (local.get $c)))
        (local.set $c01 (v128.load offset=16 (local.get $c)))
        (local.set $c02 (v128.load offset=32 (local.get $c)))
        (local.set $c03 (v128.load offset=48 (local.get $c)))
      )
      (else
        (if (i32.eq (local.get $mode) (i32.const 2))
          (then
            (local.set $b0 (v128.load offset=0 (local.get $bias)))
            (local.set $b1 (v128.load offset=16 (local.get $bias)))
            (local.set $b2 (v128.load offset=32 (local.get $bias)))
            (local.set $b3 (v128.load offset=48 (local.get $bias)))
            (local.set $c00 (local.get $b0)) (local.set $c01 (local.get $b1)) (local.set $c02 (local.get $b2)) (local.set $c03 (local.get $b3))
          ))))
    (block $done
      (loop $k
        (br_if $done (i32.eqz (local.get $K)))
        (local.set $b0 (v128.load offset=0 (local.get $b)))
        (local.set $b1 (v128.load offset=16 (local.get $b)))
        (local.set $b2 (v128.load offset=32 (local.get $b)))
        (local.set $b3 (v128.load offset=48 (local.get $b)))
        (local.set $x (v128.load32_splat (local.get $a)))
        (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $c02 (f32x4.add (local.get $c02) (f32x4.mul (local.get $x) (local.get $b2))))
        (local.set $c03 (f32x4.add (local.get $c03) (f32x4.mul (local.get $x) (local.get $b3))))
        (local.set $a (i32.add (local.get $a) (local.get $ak)))
        (local.set $b (i32.add (local.get $b) (local.get $ldb)))
        (local.set $K (i32.sub (local.get $K) (i32.const 1)))
        (br $k)))
    (if (local.get $act)
      (then
        (local.set $c00 (f32x4.pmax (local.get $c00) (v128.const f32x4 0 0 0 0))) (local.set $c01 (f32x4.pmax (local.get $c01) (v128.const f32x4 0 0 0 0))) (local.set $c02 (f32x4.pmax (local.get $c02) (v128.const f32x4 0 0 0 0))) (local.set $c03 (f32x4.pmax (local.get $c03) (v128.const f32x4 0 0 0 0)))
        (if (i32.eq (local.get $act) (i32.const 2))
          (then
            (local.set $c00 (f32x4.pmin (local.get $c00) (v128.const f32x4 6 6 6 6))) (local.set $c01 (f32x4.pmin (local.get $c01) (v128.const f32x4 6 6 6 6))) (local.set $c02 (f32x4.pmin (local.get $c02) (v128.const f32x4 6 6 6 6))) (local.set $c03 (f32x4.pmin (local.get $c03) (v128.const f32x4 6 6 6 6)))
          ))))
    (v128.store offset=0 (local.get $c) (local.get $c00))
    (v128.store offset=16 (local.get $c) (local.get $c01))
    (v128.store offset=32 (local.get $c) (local.get $c02))
    (v128.store offset=48 (local.get $c) (local.get $c03))
  )

  (func $tile1x8
    (param $c i32) (param $a i32) (param $b i32) (param $bias i32) (param $K i32) (param $am i32) (param $ak i32)
    (param $ldb i32) (param $ldc i32) (param $mode i32) (param $act i32)
    (local $c00 v128) (local $c01 v128)
    (local $b0 v128) (local $b1 v128) (local $x v128) 
    (if (i32.eq (local.get $mode) (i32.const 1))
      (then
        (local.set $c00 (v128.load offset=0 (local.get $c)))
        (local.set $c01 (v128.load offset=16 (local.get $c)))
      )
      (else
        (if (i32.eq (local.get $mode) (i32.const 2))
          (then
            (local.set $b0 (v128.load offset=0 (local.get $bias)))
            (local.set $b1 (v128.load offset=16 (local.get $bias)))
            (local.set $c00 (local.get $b0)) (local.set $c01 (local.get $b1))
          ))))
    (block $done
      (loop $k
        (br_if $done (i32.eqz (local.get $K)))
        (local.set $b0 (v128.load offset=0 (local.get $b)))
        (local.set $b1 (v128.load offset=16 (local.get $b)))
        (local.set $x (v128.load32_splat (local.get $a)))
        (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $a (i32.add (local.get $a) (local.get $ak)))
        (local.set $b (i32.add (local.get $b) (local.get $ldb)))
        (local.set $K (i32.sub (local.get $K) (i32.const 1)))
        (br $k)))
    (if (local.get $act)
      (then
        (local.set $c00 (f32x4.pmax (local.get $c00) (v128.const f32x4 0 0 0 0))) (local.set $c01 (f32x4.pmax (local.get $c01) (v128.const f32x4 0 0 0 0)))
        (if (i32.eq (local.get $act) (i32.const 2))
          (then
            (local.set $c00 (f32x4.pmin (local.get $c00) (v128.const f32x4 6 6 6 6))) (local.set $c01 (f32x4.pmin (local.get $c01) (v128.const f32x4 6 6 6 6)))
          ))))
    (v128.store offset=0 (local.get $c) (local.get $c00))
    (v128.store offset=16 (local.get $c) (local.get $c01))
  )

  (func $tile1x4Masked
    (param $c i32) (param $a i32) (param $b i32) (param $bias i32) (param $K i32) (param $am i32) (param $ak i32)
    (param $ldb i32) (param $ldc i32) (param $mode i32) (param $act i32) (param $lanes i32)
    (local $c00 v128)
    (local $b0 v128) (local $x v128) 
    (if (i32.eq (local.get $mode) (i32.const 1))
      (then
        (local.set $c00 (v128.load offset=0 (local.get $c)))
      )
      (else
        (if (i32.eq (local.get $mode) (i32.const 2))
          (then
            (local.set $b0 (v128.load offset=0 (local.get $bias)))
            (local.set $c00 (local.get $b0))
          ))))
    (block $done
      (loop $k
        (br_if $done (i32.eqz (local.get $K)))
        (local.set $b0 (v128.load offset=0 (local.get $b)))
        (local.set $x (v128.load32_splat (local.get $a)))
        (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $a (i32.add (local.get $a) (local.get $ak)))
        (local.set $b (i32.add (local.get $b) (local.get $ldb)))
        (local.set $K (i32.sub (local.get $K) (i32.const 1)))
        (br $k)))
    (if (local.get $act)
      (then
        (local.set $c00 (f32x4.pmax (local.get $c00) (v128.const f32x4 0 0 0 0)))
        (if (i32.eq (local.get $act) (i32.const 2))
          (then
            (local.set $c00 (f32x4.pmin (local.get $c00) (v128.const f32x4 6 6 6 6)))
          ))))
    (call $storeLanes (i32.add (local.get $c) (i32.const 0)) (local.get $c00) (local.get $lanes))
  )

  ;; dy ← dy · f'(z) in place, from the layer's output y = f(z), over n floats (rounded up to whole vectors):
  ;; relu (act 1: y > 0), relu6 (act 2: 0 < y < 6), sigmoid (act 3: y·(1 − y)).
  (func (export "activationGradient") (param $dy i32) (param $y i32) (param $n i32) (param $act i32)
    (local $end i32) (local $v v128)
    (local.set $end (i32.add (local.get $dy) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $dy) (local.get $end)))
        (local.set $v (v128.load (local.get $y)))
        (v128.store (local.get $dy)
          (if (result v128) (i32.eq (local.get $act) (i32.const 1))
            (then (v128.and (v128.load (local.get $dy)) (f32x4.gt (local.get $v) (v128.const f32x4 0 0 0 0))))
            (else
              (if (result v128) (i32.eq (local.get $act) (i32.const 2))
                (then
                  (v128.and (v128.load (local.get $dy))
                    (v128.and (f32x4.gt (local.get $v) (v128.const f32x4 0 0 0 0)) (f32x4.lt (local.get $v) (v128.const f32x4 6 6 6 6)))))
                (else
                  (f32x4.mul (v128.load (local.get $dy))
                    (f32x4.mul (local.get $v) (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $v)))))))))
        (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
        (local.set $y (i32.add (local.get $y) (i32.const 16)))
        (br $each))))

  ;; out (N) = the sum of the M rows of src (row stride 4N): the bias gradient. Writes whole vectors (slack).
  (func (export "columnSum") (param $out i32) (param $src i32) (param $M i32) (param $N i32)
    (local $n i32) (local $p i32) (local $m i32) (local $s v128) (local $stride i32)
    (local.set $stride (i32.shl (local.get $N) (i32.const 2)))
    (block $columnsDone
      (loop $columns
        (br_if $columnsDone (i32.ge_u (local.get $n) (local.get $N)))
        (local.set $s (v128.const f32x4 0 0 0 0))
        (local.set $p (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 2))))
        (local.set $m (local.get $M))
        (block $rowsDone
          (loop $rows
            (br_if $rowsDone (i32.eqz (local.get $m)))
            (local.set $s (f32x4.add (local.get $s) (v128.load (local.get $p))))
            (local.set $p (i32.add (local.get $p) (local.get $stride)))
            (local.set $m (i32.sub (local.get $m) (i32.const 1)))
            (br $rows)))
        (v128.store (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2))) (local.get $s))
        (local.set $n (i32.add (local.get $n) (i32.const 4)))
        (br $columns))))

  ;; dst (cols × rows) = the transpose of src (rows × cols).
  (func (export "transpose") (param $dst i32) (param $src i32) (param $rows i32) (param $cols i32)
    (local $i i32) (local $j i32) (local $from i32) (local $to i32) (local $dstStride i32)
    (local.set $dstStride (i32.shl (local.get $rows) (i32.const 2)))
    (block $rowsDone
      (loop $rowsLoop
        (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $from (i32.add (local.get $src) (i32.shl (i32.mul (local.get $i) (local.get $cols)) (i32.const 2))))
        (local.set $to (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $j (i32.const 0))
        (block $colsDone
          (loop $colsLoop
            (br_if $colsDone (i32.ge_u (local.get $j) (local.get $cols)))
            (f32.store (local.get $to) (f32.load (local.get $from)))
            (local.set $from (i32.add (local.get $from) (i32.const 4)))
            (local.set $to (i32.add (local.get $to) (local.get $dstStride)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $colsLoop)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rowsLoop))))

  ;; The rows index[0..count) of src (rowBytes each) copied one after another to dst: a batch out of the part.
  (func (export "gatherRows") (param $dst i32) (param $src i32) (param $index i32) (param $count i32) (param $rowBytes i32)
    (block $done
      (loop $each
        (br_if $done (i32.eqz (local.get $count)))
        (memory.copy (local.get $dst) (i32.add (local.get $src) (i32.mul (i32.load (local.get $index)) (local.get $rowBytes))) (local.get $rowBytes))
        (local.set $dst (i32.add (local.get $dst) (local.get $rowBytes)))
        (local.set $index (i32.add (local.get $index) (i32.const 4)))
        (local.set $count (i32.sub (local.get $count) (i32.const 1)))
        (br $each))))

  ;; Σ w² in float64 over n floats (LARS's weight norm).
  (func (export "sumSquares") (param $w i32) (param $n i32) (result f64)
    (local $s f64) (local $x f64)
    (block $done
      (loop $each
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $x (f64.promote_f32 (f32.load (local.get $w))))
        (local.set $s (f64.add (local.get $s) (f64.mul (local.get $x) (local.get $x))))
        (local.set $w (i32.add (local.get $w) (i32.const 4)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $each)))
    (local.get $s))

  ;; Σ (g + decay·w)² in float64 over n floats (LARS's gradient norm, L2 included).
  (func (export "decayedSumSquares") (param $g i32) (param $w i32) (param $n i32) (param $decay f32) (result f64)
    (local $s f64) (local $x f64)
    (block $done
      (loop $each
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $x (f64.promote_f32 (f32.add (f32.load (local.get $g)) (f32.mul (f32.load (local.get $w)) (local.get $decay)))))
        (local.set $s (f64.add (local.get $s) (f64.mul (local.get $x) (local.get $x))))
        (local.set $g (i32.add (local.get $g) (i32.const 4)))
        (local.set $w (i32.add (local.get $w) (i32.const 4)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $each)))
    (local.get $s))

  ;; The updates of optimizer.ts over n floats (whole vectors), with g ← (g + decay·w)·scale (L2, then LARS's λ):
  ;; sgd: w ← w − rate·g.
  (func (export "sgd") (param $w i32) (param $g i32) (param $n i32) (param $rate f32) (param $decay f32) (param $scale f32)
    (local $end i32) (local $wv v128)
    (local.set $end (i32.add (local.get $w) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $w) (local.get $end)))
        (local.set $wv (v128.load (local.get $w)))
        (v128.store (local.get $w)
          (f32x4.sub (local.get $wv)
            (f32x4.mul
              (f32x4.mul (f32x4.add (v128.load (local.get $g)) (f32x4.mul (local.get $wv) (f32x4.splat (local.get $decay)))) (f32x4.splat (local.get $scale)))
              (f32x4.splat (local.get $rate)))))
        (local.set $w (i32.add (local.get $w) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (br $each))))

  ;; momentum: v ← m·v + rate·g, w ← w − v.
  (func (export "momentum")
    (param $w i32) (param $g i32) (param $v i32) (param $n i32) (param $rate f32) (param $decay f32) (param $scale f32) (param $momentum f32)
    (local $end i32) (local $wv v128) (local $vv v128)
    (local.set $end (i32.add (local.get $w) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $w) (local.get $end)))
        (local.set $wv (v128.load (local.get $w)))
        (local.set $vv
          (f32x4.add (f32x4.mul (v128.load (local.get $v)) (f32x4.splat (local.get $momentum)))
            (f32x4.mul
              (f32x4.mul (f32x4.add (v128.load (local.get $g)) (f32x4.mul (local.get $wv) (f32x4.splat (local.get $decay)))) (f32x4.splat (local.get $scale)))
              (f32x4.splat (local.get $rate)))))
        (v128.store (local.get $v) (local.get $vv))
        (v128.store (local.get $w) (f32x4.sub (local.get $wv) (local.get $vv)))
        (local.set $w (i32.add (local.get $w) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (local.set $v (i32.add (local.get $v) (i32.const 16)))
        (br $each))))

  ;; adam: m ← β1·m + (1 − β1)·g, v ← β2·v + (1 − β2)·g², w ← w − rate·(m·c1) / (√(v·c2) + ε), with c1, c2 the
  ;; inverses of the bias corrections 1 − β1^t and 1 − β2^t.
  (func (export "adam")
    (param $w i32) (param $g i32) (param $m i32) (param $v i32) (param $n i32) (param $rate f32) (param $decay f32) (param $scale f32)
    (param $beta1 f32) (param $beta2 f32) (param $epsilon f32) (param $c1 f32) (param $c2 f32)
    (local $end i32) (local $wv v128) (local $gv v128) (local $mv v128) (local $vv v128)
    (local.set $end (i32.add (local.get $w) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $w) (local.get $end)))
        (local.set $wv (v128.load (local.get $w)))
        (local.set $gv
          (f32x4.mul (f32x4.add (v128.load (local.get $g)) (f32x4.mul (local.get $wv) (f32x4.splat (local.get $decay)))) (f32x4.splat (local.get $scale))))
        (local.set $mv
          (f32x4.add (f32x4.mul (v128.load (local.get $m)) (f32x4.splat (local.get $beta1)))
            (f32x4.mul (local.get $gv) (f32x4.splat (f32.sub (f32.const 1) (local.get $beta1))))))
        (local.set $vv
          (f32x4.add (f32x4.mul (v128.load (local.get $v)) (f32x4.splat (local.get $beta2)))
            (f32x4.mul (f32x4.mul (local.get $gv) (local.get $gv)) (f32x4.splat (f32.sub (f32.const 1) (local.get $beta2))))))
        (v128.store (local.get $m) (local.get $mv))
        (v128.store (local.get $v) (local.get $vv))
        (v128.store (local.get $w)
          (f32x4.sub (local.get $wv)
            (f32x4.mul
              (f32x4.div (f32x4.mul (local.get $mv) (f32x4.splat (local.get $c1)))
                (f32x4.add (f32x4.sqrt (f32x4.mul (local.get $vv) (f32x4.splat (local.get $c2)))) (f32x4.splat (local.get $epsilon))))
              (f32x4.splat (local.get $rate)))))
        (local.set $w (i32.add (local.get $w) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (local.set $m (i32.add (local.get $m) (i32.const 16)))
        (local.set $v (i32.add (local.get $v) (i32.const 16)))
        (br $each)))))
