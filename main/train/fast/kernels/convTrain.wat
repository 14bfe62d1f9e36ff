;; A stride-1 conv's forward pass, kernel gradient and input gradient as im2col + matrix products (fast/convGemm.ts),
;; over NHWC float32 data: the patches of a chunk of output pixels are gathered into a [pixels, k·k·c] matrix and
;; multiplied by denseTrain.wat's gemm, which this module imports together with its memory (one gemm for dense
;; layers and convs alike).
;;
;;   forward      y [P, f]     = patches [P, kkc] · w [kkc, f]                     (P = n · outH · outW)
;;   kernelGrad   dk [kkc, f]  = Σ over chunks patchesᵀ · dy                        (gemm reads A transposed)
;;   inputGrad    dx            = col2im(dy [P, f] · wᵀ [f, kkc])                    (scatter-add of the patches)
;;
;; Why: tfjs-backend-wasm has no Conv2DBackpropFilter and runs Conv2DBackpropInput outside XNNPACK; expressed as
;; forward convs (fast/conv.ts) the gradients need pads, flips and transposes around XNNPACK convs of odd shapes
;; (a 14×14 window over 32 "channels"), and every XNNPACK op hands work to its thread pool, which waits for a
;; second core that a shared machine often does not give it. Chunks of output pixels keep the patch matrix in
;; the core's cache (the caller picks the chunk).
;;
;; `shape` sets the geometry for the calls after it. Offsets are bytes; every buffer has 16 bytes of slack after
;; it (the gemm's last vector of a row may read past the end).
(module
  (import "dense" "memory" (memory 1))
  (import "dense" "gemm"
    (func $gemm (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)))

  (global $n (mut i32) (i32.const 0))
  (global $h (mut i32) (i32.const 0))
  (global $w (mut i32) (i32.const 0))
  (global $c (mut i32) (i32.const 0))
  (global $k (mut i32) (i32.const 0))
  (global $f (mut i32) (i32.const 0))
  (global $outH (mut i32) (i32.const 0))
  (global $outW (mut i32) (i32.const 0))
  ;; rows and columns of padding before the image (tfjs's "same": floor((k - 1) / 2); "valid": 0)
  (global $before (mut i32) (i32.const 0))
  ;; forward's epilogue (set by `epilogue` after `shape`, which clears it): the bias its sums start from (0: none)
  ;; and the gemm's activation (0 none, 1 relu)
  (global $bias (mut i32) (i32.const 0))
  (global $act (mut i32) (i32.const 0))

  (func (export "epilogue") (param $bias i32) (param $act i32)
    (global.set $bias (local.get $bias))
    (global.set $act (local.get $act)))

  (func (export "shape")
    (param $n i32) (param $h i32) (param $w i32) (param $c i32) (param $k i32) (param $f i32)
    (param $outH i32) (param $outW i32) (param $before i32)
    (global.set $n (local.get $n)) (global.set $h (local.get $h)) (global.set $w (local.get $w))
    (global.set $c (local.get $c)) (global.set $k (local.get $k)) (global.set $f (local.get $f))
    (global.set $outH (local.get $outH)) (global.set $outW (local.get $outW)) (global.set $before (local.get $before))
    (global.set $bias (i32.const 0)) (global.set $act (i32.const 0)))

  ;; dst[0..bytes) = src[0..bytes); bytes a multiple of 4
  (func $copy (param $dst i32) (param $src i32) (param $bytes i32)
    (block $vectorsDone
      (loop $vectors
        (br_if $vectorsDone (i32.lt_u (local.get $bytes) (i32.const 16)))
        (v128.store (local.get $dst) (v128.load (local.get $src)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $bytes (i32.sub (local.get $bytes) (i32.const 16)))
        (br $vectors)))
    (block $floatsDone
      (loop $floats
        (br_if $floatsDone (i32.eqz (local.get $bytes)))
        (f32.store (local.get $dst) (f32.load (local.get $src)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (local.set $bytes (i32.sub (local.get $bytes) (i32.const 4)))
        (br $floats))))

  ;; dst[0..bytes) += src[0..bytes); bytes a multiple of 4
  (func $addInto (param $dst i32) (param $src i32) (param $bytes i32)
    (block $vectorsDone
      (loop $vectors
        (br_if $vectorsDone (i32.lt_u (local.get $bytes) (i32.const 16)))
        (v128.store (local.get $dst) (f32x4.add (v128.load (local.get $dst)) (v128.load (local.get $src))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $bytes (i32.sub (local.get $bytes) (i32.const 16)))
        (br $vectors)))
    (block $floatsDone
      (loop $floats
        (br_if $floatsDone (i32.eqz (local.get $bytes)))
        (f32.store (local.get $dst) (f32.add (f32.load (local.get $dst)) (f32.load (local.get $src))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (local.set $bytes (i32.sub (local.get $bytes) (i32.const 4)))
        (br $floats))))

  ;; Walks the window rows of output pixels p0 .. p0+count: for each row i of each pixel's window that lies inside
  ;; the image, the part of it inside the image (columns jlo .. jhi) pairs a span of x with a span of the patch row.
  ;; gather (toPatches 1): patches ← x, zeros outside the image; scatter (0): dx += patches over the same spans.
  (func $walk (param $patches i32) (param $x i32) (param $p0 i32) (param $count i32) (param $toPatches i32)
    (local $p i32) (local $end i32) (local $pixels i32) (local $b i32) (local $r i32) (local $oy i32) (local $ox i32)
    (local $x0 i32) (local $jlo i32) (local $jhi i32) (local $i i32) (local $yy i32)
    (local $pixelBytes i32) (local $rowBytes i32) (local $patchRow i32) (local $seg i32) (local $span i32) (local $src i32)
    (local.set $pixels (i32.mul (global.get $outH) (global.get $outW)))
    (local.set $pixelBytes (i32.shl (global.get $c) (i32.const 2)))
    ;; one window row: k pixels of c channels
    (local.set $rowBytes (i32.mul (global.get $k) (local.get $pixelBytes)))
    (local.set $patchRow (local.get $patches))
    (local.set $p (local.get $p0))
    (local.set $end (i32.add (local.get $p0) (local.get $count)))
    (block $pixelsDone
      (loop $pixelsLoop
        (br_if $pixelsDone (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $b (i32.div_u (local.get $p) (local.get $pixels)))
        (local.set $r (i32.sub (local.get $p) (i32.mul (local.get $b) (local.get $pixels))))
        (local.set $oy (i32.div_u (local.get $r) (global.get $outW)))
        (local.set $ox (i32.sub (local.get $r) (i32.mul (local.get $oy) (global.get $outW))))
        ;; the window's first column in the image (may be negative) and its columns inside the image
        (local.set $x0 (i32.sub (local.get $ox) (global.get $before)))
        (local.set $jlo (select (i32.sub (i32.const 0) (local.get $x0)) (i32.const 0) (i32.lt_s (local.get $x0) (i32.const 0))))
        (local.set $jhi (i32.sub (global.get $w) (local.get $x0)))
        (if (i32.gt_s (local.get $jhi) (global.get $k)) (then (local.set $jhi (global.get $k))))
        (if (i32.lt_s (local.get $jhi) (local.get $jlo)) (then (local.set $jhi (local.get $jlo))))
        (local.set $span (i32.mul (i32.sub (local.get $jhi) (local.get $jlo)) (local.get $pixelBytes)))
        (local.set $i (i32.const 0))
        (local.set $seg (local.get $patchRow))
        (block $rowsDone
          (loop $rowsLoop
            (br_if $rowsDone (i32.ge_u (local.get $i) (global.get $k)))
            (local.set $yy (i32.sub (i32.add (local.get $oy) (local.get $i)) (global.get $before)))
            (if (i32.and (i32.ge_s (local.get $yy) (i32.const 0)) (i32.lt_s (local.get $yy) (global.get $h)))
              (then
                (local.set $src
                  (i32.add (local.get $x)
                    (i32.mul
                      (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (global.get $h)) (local.get $yy)) (global.get $w))
                        (i32.add (local.get $x0) (local.get $jlo)))
                      (local.get $pixelBytes))))
                (if (local.get $toPatches)
                  (then
                    ;; (the fills only at the image's edges: most windows lie inside)
                    (if (local.get $jlo)
                      (then (memory.fill (local.get $seg) (i32.const 0) (i32.mul (local.get $jlo) (local.get $pixelBytes)))))
                    (call $copy (i32.add (local.get $seg) (i32.mul (local.get $jlo) (local.get $pixelBytes))) (local.get $src) (local.get $span))
                    (if (i32.lt_s (local.get $jhi) (global.get $k))
                      (then
                        (memory.fill
                          (i32.add (local.get $seg) (i32.mul (local.get $jhi) (local.get $pixelBytes)))
                          (i32.const 0)
                          (i32.mul (i32.sub (global.get $k) (local.get $jhi)) (local.get $pixelBytes))))))
                  (else
                    (call $addInto (local.get $src) (i32.add (local.get $seg) (i32.mul (local.get $jlo) (local.get $pixelBytes))) (local.get $span)))))
              (else
                (if (local.get $toPatches) (then (memory.fill (local.get $seg) (i32.const 0) (local.get $rowBytes))))))
            (local.set $seg (i32.add (local.get $seg) (local.get $rowBytes)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $rowsLoop)))
        (local.set $patchRow (local.get $seg))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $pixelsLoop))))

  ;; The patch matrix of output pixels p0 .. p0+count (tests read it).
  (func (export "im2col") (param $patches i32) (param $x i32) (param $p0 i32) (param $count i32)
    (call $walk (local.get $patches) (local.get $x) (local.get $p0) (local.get $count) (i32.const 1)))

  (func $kkc (result i32) (i32.mul (i32.mul (global.get $k) (global.get $k)) (global.get $c)))
  (func $outputs (result i32) (i32.mul (i32.mul (global.get $n) (global.get $outH)) (global.get $outW)))

  ;; y [P, f] = patches · w for output pixels first .. last, `chunk` at a time through the scratch buffer `patches`
  ;; (a second thread takes a range of whole chunks: kernels/threads.ts)
  (func (export "forward") (param $y i32) (param $x i32) (param $weights i32) (param $patches i32) (param $chunk i32)
    (param $first i32) (param $last i32)
    (local $p0 i32) (local $count i32) (local $total i32) (local $kkc i32)
    (local.set $p0 (local.get $first))
    (local.set $total (local.get $last))
    (local.set $kkc (call $kkc))
    (block $done
      (loop $chunks
        (br_if $done (i32.ge_u (local.get $p0) (local.get $total)))
        (local.set $count (i32.sub (local.get $total) (local.get $p0)))
        (if (i32.gt_u (local.get $count) (local.get $chunk)) (then (local.set $count (local.get $chunk))))
        (call $walk (local.get $patches) (local.get $x) (local.get $p0) (local.get $count) (i32.const 1))
        (call $gemm
          (i32.add (local.get $y) (i32.shl (i32.mul (local.get $p0) (global.get $f)) (i32.const 2)))
          (local.get $patches) (local.get $weights) (global.get $bias)
          (local.get $count) (global.get $f) (local.get $kkc)
          (i32.shl (local.get $kkc) (i32.const 2)) (i32.const 4)
          (i32.shl (global.get $f) (i32.const 2)) (i32.shl (global.get $f) (i32.const 2))
          (select (i32.const 2) (i32.const 0) (global.get $bias)) (global.get $act))
        (local.set $p0 (i32.add (local.get $p0) (local.get $count)))
        (br $chunks))))

  ;; rows first .. last of dk [kkc, f] = Σ patchesᵀ · dy over the chunks (the first chunk stores, the others
  ;; accumulate): a second thread takes other rows over the same chunks, so each element sums in the same order
  (func (export "kernelGrad") (param $dk i32) (param $x i32) (param $dy i32) (param $patches i32) (param $chunk i32)
    (param $first i32) (param $last i32)
    (local $p0 i32) (local $count i32) (local $total i32) (local $kkc i32)
    (local.set $total (call $outputs))
    (local.set $kkc (call $kkc))
    (block $done
      (loop $chunks
        (br_if $done (i32.ge_u (local.get $p0) (local.get $total)))
        (local.set $count (i32.sub (local.get $total) (local.get $p0)))
        (if (i32.gt_u (local.get $count) (local.get $chunk)) (then (local.set $count (local.get $chunk))))
        (call $walk (local.get $patches) (local.get $x) (local.get $p0) (local.get $count) (i32.const 1))
        (call $gemm
          (i32.add (local.get $dk) (i32.shl (i32.mul (local.get $first) (global.get $f)) (i32.const 2)))
          (i32.add (local.get $patches) (i32.shl (local.get $first) (i32.const 2)))
          (i32.add (local.get $dy) (i32.shl (i32.mul (local.get $p0) (global.get $f)) (i32.const 2))) (i32.const 0)
          (i32.sub (local.get $last) (local.get $first)) (global.get $f) (local.get $count)
          (i32.const 4) (i32.shl (local.get $kkc) (i32.const 2))
          (i32.shl (global.get $f) (i32.const 2)) (i32.shl (global.get $f) (i32.const 2))
          (select (i32.const 1) (i32.const 0) (local.get $p0)) (i32.const 0))
        (local.set $p0 (i32.add (local.get $p0) (local.get $count)))
        (br $chunks))))

  ;; dx [n, h, w, c] = col2im(dy · wᵀ), wT [f, kkc] given transposed, for the images of output pixels first .. last
  ;; (whole images: a second thread takes other images, whose dx no pixel here touches; each element of dx still
  ;; receives its pixels' contributions in ascending order)
  (func (export "inputGrad") (param $dx i32) (param $dy i32) (param $wT i32) (param $patches i32) (param $chunk i32)
    (param $first i32) (param $last i32)
    (local $p0 i32) (local $count i32) (local $total i32) (local $kkc i32) (local $imageBytes i32) (local $pixels i32)
    (local.set $p0 (local.get $first))
    (local.set $total (local.get $last))
    (local.set $kkc (call $kkc))
    (local.set $pixels (i32.mul (global.get $outH) (global.get $outW)))
    (local.set $imageBytes (i32.shl (i32.mul (i32.mul (global.get $h) (global.get $w)) (global.get $c)) (i32.const 2)))
    (memory.fill
      (i32.add (local.get $dx) (i32.mul (i32.div_u (local.get $first) (local.get $pixels)) (local.get $imageBytes)))
      (i32.const 0)
      (i32.mul (i32.div_u (i32.sub (local.get $last) (local.get $first)) (local.get $pixels)) (local.get $imageBytes)))
    (block $done
      (loop $chunks
        (br_if $done (i32.ge_u (local.get $p0) (local.get $total)))
        (local.set $count (i32.sub (local.get $total) (local.get $p0)))
        (if (i32.gt_u (local.get $count) (local.get $chunk)) (then (local.set $count (local.get $chunk))))
        (call $gemm
          (local.get $patches)
          (i32.add (local.get $dy) (i32.shl (i32.mul (local.get $p0) (global.get $f)) (i32.const 2)))
          (local.get $wT) (i32.const 0)
          (local.get $count) (local.get $kkc) (global.get $f)
          (i32.shl (global.get $f) (i32.const 2)) (i32.const 4)
          (i32.shl (local.get $kkc) (i32.const 2)) (i32.shl (local.get $kkc) (i32.const 2))
          (i32.const 0) (i32.const 0))
        (call $walk (local.get $patches) (local.get $dx) (local.get $p0) (local.get $count) (i32.const 0))
        (local.set $p0 (i32.add (local.get $p0) (local.get $count)))
        (br $chunks)))))
