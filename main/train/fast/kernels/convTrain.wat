;; A stride-1 conv's forward pass, kernel gradient and input gradient as im2col + matrix products (fast/convGemm.ts),
;; over NHWC float32 data: the patches of a chunk of output pixels are gathered into a [pixels, k·k·c] matrix and
;; multiplied by denseTrain.wat's gemm, which this module imports together with its memory (one gemm for dense
;; layers and convs alike).
;;
;;   forward      y [P, f]     = patches [P, kkc] · w [kkc, f]                     (P = n · outH · outW)
;;   kernelGrad   dk [kkc, f]  = Σ over parts Σ over chunks patchesᵀ · dy          (gemm reads A transposed)
;;   inputGrad    dx            = col2im(dy [P, f] · wᵀ [f, kkc])                    (scatter-add of the patches)
;;
;; Why: tfjs-backend-wasm has no Conv2DBackpropFilter and runs Conv2DBackpropInput outside XNNPACK; expressed as
;; forward convs (fast/conv.ts) the gradients need pads, flips and transposes around XNNPACK convs of odd shapes
;; (a 14×14 window over 32 "channels"), and every XNNPACK op hands work to its thread pool, which waits for a
;; second core that a shared machine often does not give it. Chunks of output pixels keep the patch matrix in
;; the core's cache (the caller picks the chunk).
;;
;; Inputs with few channels take directKernelGrad instead of kernelGrad (no patches; see there).
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
  ;; kernelGrad's parts: output pixels a partial sum covers (a multiple of the chunk; set by `epilogue`)
  (global $partPixels (mut i32) (i32.const 0))

  (func (export "epilogue") (param $bias i32) (param $act i32) (param $partPixels i32)
    (global.set $bias (local.get $bias))
    (global.set $act (local.get $act))
    (global.set $partPixels (local.get $partPixels)))

  (func (export "shape")
    (param $n i32) (param $h i32) (param $w i32) (param $c i32) (param $k i32) (param $f i32)
    (param $outH i32) (param $outW i32) (param $before i32)
    (global.set $n (local.get $n)) (global.set $h (local.get $h)) (global.set $w (local.get $w))
    (global.set $c (local.get $c)) (global.set $k (local.get $k)) (global.set $f (local.get $f))
    (global.set $outH (local.get $outH)) (global.set $outW (local.get $outW)) (global.set $before (local.get $before))
    (global.set $bias (i32.const 0)) (global.set $act (i32.const 0)) (global.set $partPixels (i32.const 0)))

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
  ;; The pixel's (image, row, column) advance by one each step (no division per pixel) and the spans are copied
  ;; inline, four vectors a step: with the copies as calls (12 vectors a span for 3×3×16) this walk took about as
  ;; long as the gemm after it on the small CNN's second conv (2026-12-03).
  (func $walk (param $patches i32) (param $x i32) (param $p0 i32) (param $count i32) (param $toPatches i32)
    (local $p i32) (local $pixels i32) (local $b i32) (local $r i32) (local $oy i32) (local $ox i32)
    (local $x0 i32) (local $i i32) (local $yy i32)
    (local $pixelBytes i32) (local $rowBytes i32) (local $imageRowBytes i32) (local $seg i32) (local $src i32)
    (local.set $pixels (i32.mul (global.get $outH) (global.get $outW)))
    (local.set $pixelBytes (i32.shl (global.get $c) (i32.const 2)))
    ;; one window row: k pixels of c channels
    (local.set $rowBytes (i32.mul (global.get $k) (local.get $pixelBytes)))
    (local.set $imageRowBytes (i32.mul (global.get $w) (local.get $pixelBytes)))
    (local.set $b (i32.div_u (local.get $p0) (local.get $pixels)))
    (local.set $r (i32.sub (local.get $p0) (i32.mul (local.get $b) (local.get $pixels))))
    (local.set $oy (i32.div_u (local.get $r) (global.get $outW)))
    (local.set $ox (i32.sub (local.get $r) (i32.mul (local.get $oy) (global.get $outW))))
    (local.set $seg (local.get $patches))
    (local.set $p (i32.const 0))
    (block $pixelsDone
      (loop $pixelsLoop
        (br_if $pixelsDone (i32.ge_u (local.get $p) (local.get $count)))
        ;; the window's first column in the image (may be negative) and its columns inside the image
        (local.set $x0 (i32.sub (local.get $ox) (global.get $before)))
        (local.set $yy (i32.sub (local.get $oy) (global.get $before)))
        ;; a window inside the image: gathered from whole rows; scattered from whole rows where a row is whole vectors
        ;; (dx's next floats belong to other pixels: nothing may be added past a row)
        (if (i32.and (i32.or (local.get $toPatches) (i32.eqz (i32.and (local.get $rowBytes) (i32.const 15))))
              (i32.and
                (i32.and (i32.ge_s (local.get $x0) (i32.const 0)) (i32.le_s (i32.add (local.get $x0) (global.get $k)) (global.get $w)))
                (i32.and (i32.ge_s (local.get $yy) (i32.const 0)) (i32.le_s (i32.add (local.get $yy) (global.get $k)) (global.get $h)))))
          (then
            ;; A window inside the image (most of them): each row is rowBytes straight from x, copied a vector at a
            ;; time, the last one past the row's end (a 3×3 window over one channel is 12 bytes a row). What it
            ;; writes past the row is the start of the patch row's next segment, written after it, or the buffer's
            ;; slack after the last pixel.
            (local.set $src
              (i32.add (local.get $x)
                (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (global.get $h)) (local.get $yy)) (global.get $w)) (local.get $x0))
                  (local.get $pixelBytes))))
            (local.set $i (i32.const 0))
            (block $insideDone
              (loop $inside
                (br_if $insideDone (i32.ge_u (local.get $i) (global.get $k)))
                (local.set $r (i32.const 0))
                (if (local.get $toPatches)
                  (then
                    (block $rowDone
                      (loop $row
                        (br_if $rowDone (i32.ge_u (local.get $r) (local.get $rowBytes)))
                        (v128.store (i32.add (local.get $seg) (local.get $r)) (v128.load (i32.add (local.get $src) (local.get $r))))
                        (local.set $r (i32.add (local.get $r) (i32.const 16)))
                        (br $row))))
                  (else
                    ;; dx += the patch row, each float once, as the span walk adds it
                    (block $rowDone
                      (loop $row
                        (br_if $rowDone (i32.ge_u (local.get $r) (local.get $rowBytes)))
                        (local.set $x0 (i32.add (local.get $src) (local.get $r)))
                        (v128.store (local.get $x0) (f32x4.add (v128.load (local.get $x0)) (v128.load (i32.add (local.get $seg) (local.get $r)))))
                        (local.set $r (i32.add (local.get $r) (i32.const 16)))
                        (br $row)))))
                (local.set $seg (i32.add (local.get $seg) (local.get $rowBytes)))
                (local.set $src (i32.add (local.get $src) (local.get $imageRowBytes)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $inside))))
          (else
            (call $walkEdge (local.get $seg) (local.get $x) (local.get $b) (local.get $oy) (local.get $ox) (local.get $toPatches))
            (local.set $seg (i32.add (local.get $seg) (i32.mul (global.get $k) (local.get $rowBytes))))))
        ;; the next pixel: column, then row, then image
        (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
        (if (i32.eq (local.get $ox) (global.get $outW))
          (then
            (local.set $ox (i32.const 0))
            (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
            (if (i32.eq (local.get $oy) (global.get $outH))
              (then
                (local.set $oy (i32.const 0))
                (local.set $b (i32.add (local.get $b) (i32.const 1)))))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $pixelsLoop))))

  ;; One pixel's window rows for $walk where the window hangs over the image's edge (or a scattered row is not whole
  ;; vectors): the part
  ;; of each row inside the image is copied (or added) span by span, zeros around it in the patches.
  (func $walkEdge (param $seg i32) (param $x i32) (param $b i32) (param $oy i32) (param $ox i32) (param $toPatches i32)
    (local $x0 i32) (local $jlo i32) (local $jhi i32) (local $i i32) (local $yy i32) (local $r i32)
    (local $pixelBytes i32) (local $rowBytes i32) (local $imageRowBytes i32) (local $span i32)
    (local $src i32) (local $dst i32) (local $stop i32)
    (local.set $pixelBytes (i32.shl (global.get $c) (i32.const 2)))
    (local.set $rowBytes (i32.mul (global.get $k) (local.get $pixelBytes)))
    (local.set $imageRowBytes (i32.mul (global.get $w) (local.get $pixelBytes)))
    (local.set $x0 (i32.sub (local.get $ox) (global.get $before)))
    (local.set $jlo (select (i32.sub (i32.const 0) (local.get $x0)) (i32.const 0) (i32.lt_s (local.get $x0) (i32.const 0))))
    (local.set $jhi (i32.sub (global.get $w) (local.get $x0)))
    (if (i32.gt_s (local.get $jhi) (global.get $k)) (then (local.set $jhi (global.get $k))))
    (if (i32.lt_s (local.get $jhi) (local.get $jlo)) (then (local.set $jhi (local.get $jlo))))
    (local.set $span (i32.mul (i32.sub (local.get $jhi) (local.get $jlo)) (local.get $pixelBytes)))
    ;; x at the window's first row (which may lie above the image: only rows inside are read)
    (local.set $src
      (i32.add (local.get $x)
        (i32.mul
          (i32.add (i32.mul (i32.sub (i32.add (i32.mul (local.get $b) (global.get $h)) (local.get $oy)) (global.get $before)) (global.get $w))
            (i32.add (local.get $x0) (local.get $jlo)))
          (local.get $pixelBytes))))
    (local.set $yy (i32.sub (local.get $oy) (global.get $before)))
    (local.set $i (i32.const 0))
    (block $rowsDone
      (loop $rowsLoop
        (br_if $rowsDone (i32.ge_u (local.get $i) (global.get $k)))
        (if (i32.and (i32.ge_s (local.get $yy) (i32.const 0)) (i32.lt_s (local.get $yy) (global.get $h)))
          (then
            (local.set $dst (i32.add (local.get $seg) (i32.mul (local.get $jlo) (local.get $pixelBytes))))
            (local.set $stop (i32.add (local.get $dst) (local.get $span)))
            (if (local.get $toPatches)
              (then
                ;; (the fills only at the image's edges: most windows lie inside)
                (if (local.get $jlo)
                  (then (memory.fill (local.get $seg) (i32.const 0) (i32.mul (local.get $jlo) (local.get $pixelBytes)))))
                (if (i32.lt_s (local.get $jhi) (global.get $k))
                  (then
                    (memory.fill (local.get $stop) (i32.const 0) (i32.mul (i32.sub (global.get $k) (local.get $jhi)) (local.get $pixelBytes)))))
                (local.set $r (local.get $src))
                (block $quadsDone
                  (loop $quads
                    (br_if $quadsDone (i32.gt_u (i32.add (local.get $dst) (i32.const 64)) (local.get $stop)))
                    (v128.store (local.get $dst) (v128.load (local.get $r)))
                    (v128.store offset=16 (local.get $dst) (v128.load offset=16 (local.get $r)))
                    (v128.store offset=32 (local.get $dst) (v128.load offset=32 (local.get $r)))
                    (v128.store offset=48 (local.get $dst) (v128.load offset=48 (local.get $r)))
                    (local.set $dst (i32.add (local.get $dst) (i32.const 64)))
                    (local.set $r (i32.add (local.get $r) (i32.const 64)))
                    (br $quads)))
                (block $vectorsDone
                  (loop $vectors
                    (br_if $vectorsDone (i32.gt_u (i32.add (local.get $dst) (i32.const 16)) (local.get $stop)))
                    (v128.store (local.get $dst) (v128.load (local.get $r)))
                    (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
                    (local.set $r (i32.add (local.get $r) (i32.const 16)))
                    (br $vectors)))
                (block $floatsDone
                  (loop $floats
                    (br_if $floatsDone (i32.ge_u (local.get $dst) (local.get $stop)))
                    (f32.store (local.get $dst) (f32.load (local.get $r)))
                    (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
                    (local.set $r (i32.add (local.get $r) (i32.const 4)))
                    (br $floats))))
              (else
                ;; dx += the span, in the same order as one vector at a time
                (local.set $r (local.get $src))
                (block $quadsDone
                  (loop $quads
                    (br_if $quadsDone (i32.gt_u (i32.add (local.get $dst) (i32.const 64)) (local.get $stop)))
                    (v128.store (local.get $r) (f32x4.add (v128.load (local.get $r)) (v128.load (local.get $dst))))
                    (v128.store offset=16 (local.get $r) (f32x4.add (v128.load offset=16 (local.get $r)) (v128.load offset=16 (local.get $dst))))
                    (v128.store offset=32 (local.get $r) (f32x4.add (v128.load offset=32 (local.get $r)) (v128.load offset=32 (local.get $dst))))
                    (v128.store offset=48 (local.get $r) (f32x4.add (v128.load offset=48 (local.get $r)) (v128.load offset=48 (local.get $dst))))
                    (local.set $dst (i32.add (local.get $dst) (i32.const 64)))
                    (local.set $r (i32.add (local.get $r) (i32.const 64)))
                    (br $quads)))
                (block $vectorsDone
                  (loop $vectors
                    (br_if $vectorsDone (i32.gt_u (i32.add (local.get $dst) (i32.const 16)) (local.get $stop)))
                    (v128.store (local.get $r) (f32x4.add (v128.load (local.get $r)) (v128.load (local.get $dst))))
                    (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
                    (local.set $r (i32.add (local.get $r) (i32.const 16)))
                    (br $vectors)))
                (block $floatsDone
                  (loop $floats
                    (br_if $floatsDone (i32.ge_u (local.get $dst) (local.get $stop)))
                    (f32.store (local.get $r) (f32.add (f32.load (local.get $r)) (f32.load (local.get $dst))))
                    (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
                    (local.set $r (i32.add (local.get $r) (i32.const 4)))
                    (br $floats))))))
          (else
            (if (local.get $toPatches) (then (memory.fill (local.get $seg) (i32.const 0) (local.get $rowBytes))))))
        (local.set $seg (i32.add (local.get $seg) (local.get $rowBytes)))
        (local.set $src (i32.add (local.get $src) (local.get $imageRowBytes)))
        (local.set $yy (i32.add (local.get $yy) (i32.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rowsLoop))))

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

  ;; rows first .. last of dk [kkc, f] straight from x and dy, without the patch matrix: for inputs with few
  ;; channels (the images themselves), whose patches are mostly copying (a 3×3 window over one channel is nine
  ;; floats a pixel, and a gemm over 9 rows of patches runs at a fraction of its speed). Row t = (i·k + j)·c + ch
  ;; sums x[b, oy − before + i, ox − before + j, ch] · dy[b, oy, ox, ·] over the output pixels whose tap lies inside
  ;; the image, images, rows and columns ascending, multiply then add. Filters a multiple of 4: 16 at a time, one
  ;; column a step in four sums (five loads and four sums fit V8's registers; two columns of 16 spilled to the
  ;; stack every step and 8 filters a pass was slower), then 4 at a time in two sums (even and odd columns, the odd
  ;; one added last) so that consecutive products do not wait for each other. A second thread takes other rows.
  (func (export "directKernelGrad") (param $dk i32) (param $x i32) (param $dy i32) (param $patches i32) (param $chunk i32)
    (param $first i32) (param $last i32)
    (local $t i32) (local $ch i32) (local $i i32) (local $j i32) (local $b i32) (local $oy i32) (local $ox i32)
    (local $ylo i32) (local $yhi i32) (local $xlo i32) (local $xhi i32) (local $fo i32) (local $wide i32)
    (local $fBytes i32) (local $cBytes i32) (local $xp i32) (local $dp i32) (local $out i32)
    (local $xs v128) (local $xs2 v128)
    (local $a0 v128) (local $a1 v128) (local $e0 v128) (local $e1 v128)
    (local.set $fBytes (i32.shl (global.get $f) (i32.const 2)))
    (local.set $cBytes (i32.shl (global.get $c) (i32.const 2)))
    (local.set $t (local.get $first))
    (block $done
      (loop $rowsOfDk
        (br_if $done (i32.ge_u (local.get $t) (local.get $last)))
        (local.set $ch (i32.rem_u (local.get $t) (global.get $c)))
        (local.set $j (i32.div_u (local.get $t) (global.get $c)))
        (local.set $i (i32.div_u (local.get $j) (global.get $k)))
        (local.set $j (i32.sub (local.get $j) (i32.mul (local.get $i) (global.get $k))))
        ;; output rows ylo .. yhi and columns xlo .. xhi whose tap (i, j) lies inside the image
        (local.set $ylo (i32.sub (global.get $before) (local.get $i)))
        (if (i32.lt_s (local.get $ylo) (i32.const 0)) (then (local.set $ylo (i32.const 0))))
        (local.set $yhi (i32.sub (i32.add (global.get $h) (global.get $before)) (local.get $i)))
        (if (i32.gt_s (local.get $yhi) (global.get $outH)) (then (local.set $yhi (global.get $outH))))
        (local.set $xlo (i32.sub (global.get $before) (local.get $j)))
        (if (i32.lt_s (local.get $xlo) (i32.const 0)) (then (local.set $xlo (i32.const 0))))
        (local.set $xhi (i32.sub (i32.add (global.get $w) (global.get $before)) (local.get $j)))
        (if (i32.gt_s (local.get $xhi) (global.get $outW)) (then (local.set $xhi (global.get $outW))))
        (local.set $out (i32.add (local.get $dk) (i32.mul (local.get $t) (local.get $fBytes))))
        (local.set $fo (i32.const 0))
        (block $filtersDone
          (loop $filters
            (br_if $filtersDone (i32.ge_u (local.get $fo) (global.get $f)))
            (local.set $wide (i32.le_u (i32.add (local.get $fo) (i32.const 16)) (global.get $f)))
            (local.set $a0 (v128.const f32x4 0 0 0 0)) (local.set $a1 (v128.const f32x4 0 0 0 0))
            (local.set $e0 (v128.const f32x4 0 0 0 0)) (local.set $e1 (v128.const f32x4 0 0 0 0))
            (local.set $b (i32.const 0))
            (block $imagesDone
              (loop $images
                (br_if $imagesDone (i32.ge_u (local.get $b) (global.get $n)))
                (local.set $oy (local.get $ylo))
                (block $linesDone
                  (loop $lines
                    (br_if $linesDone (i32.ge_s (local.get $oy) (local.get $yhi)))
                    (local.set $xp
                      (i32.add (local.get $x)
                        (i32.shl
                          (i32.add
                            (i32.mul
                              (i32.add
                                (i32.mul (i32.add (i32.mul (local.get $b) (global.get $h)) (i32.sub (i32.add (local.get $oy) (local.get $i)) (global.get $before)))
                                  (global.get $w))
                                (i32.sub (i32.add (local.get $xlo) (local.get $j)) (global.get $before)))
                              (global.get $c))
                            (local.get $ch))
                          (i32.const 2))))
                    (local.set $dp
                      (i32.add (local.get $dy)
                        (i32.shl
                          (i32.add
                            (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (global.get $outH)) (local.get $oy)) (global.get $outW)) (local.get $xlo))
                              (global.get $f))
                            (local.get $fo))
                          (i32.const 2))))
                    (local.set $ox (local.get $xlo))
                    (if (local.get $wide)
                      (then
                        ;; one column a step, 16 filters in four sums
                        (block $columnsDone
                          (loop $columns
                            (br_if $columnsDone (i32.ge_s (local.get $ox) (local.get $xhi)))
                            (local.set $xs (v128.load32_splat (local.get $xp)))
                            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xs) (v128.load (local.get $dp)))))
                            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xs) (v128.load offset=16 (local.get $dp)))))
                            (local.set $e0 (f32x4.add (local.get $e0) (f32x4.mul (local.get $xs) (v128.load offset=32 (local.get $dp)))))
                            (local.set $e1 (f32x4.add (local.get $e1) (f32x4.mul (local.get $xs) (v128.load offset=48 (local.get $dp)))))
                            (local.set $dp (i32.add (local.get $dp) (local.get $fBytes)))
                            (local.set $xp (i32.add (local.get $xp) (local.get $cBytes)))
                            (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
                            (br $columns))))
                      (else
                        (block $pairsDone
                          (loop $pairs
                            (br_if $pairsDone (i32.ge_s (i32.add (local.get $ox) (i32.const 1)) (local.get $xhi)))
                            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat (local.get $xp)) (v128.load (local.get $dp)))))
                            (local.set $e0
                              (f32x4.add (local.get $e0)
                                (f32x4.mul (v128.load32_splat (i32.add (local.get $xp) (local.get $cBytes))) (v128.load (i32.add (local.get $dp) (local.get $fBytes))))))
                            (local.set $dp (i32.add (local.get $dp) (i32.shl (local.get $fBytes) (i32.const 1))))
                            (local.set $xp (i32.add (local.get $xp) (i32.shl (local.get $cBytes) (i32.const 1))))
                            (local.set $ox (i32.add (local.get $ox) (i32.const 2)))
                            (br $pairs)))
                        (if (i32.lt_s (local.get $ox) (local.get $xhi))
                          (then
                            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat (local.get $xp)) (v128.load (local.get $dp)))))))))
                    (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
                    (br $lines)))
                (local.set $b (i32.add (local.get $b) (i32.const 1)))
                (br $images)))
            (if (local.get $wide)
              (then
                (v128.store (local.get $out) (local.get $a0))
                (v128.store offset=16 (local.get $out) (local.get $a1))
                (v128.store offset=32 (local.get $out) (local.get $e0))
                (v128.store offset=48 (local.get $out) (local.get $e1))
                (local.set $out (i32.add (local.get $out) (i32.const 64)))
                (local.set $fo (i32.add (local.get $fo) (i32.const 16))))
              (else
                ;; the narrow sums: even columns, then the odd ones added
                (v128.store (local.get $out) (f32x4.add (local.get $a0) (local.get $e0)))
                (local.set $out (i32.add (local.get $out) (i32.const 16)))
                (local.set $fo (i32.add (local.get $fo) (i32.const 4)))))
            (br $filters)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $rowsOfDk))))

  ;; dk [kkc, f] = Σ patchesᵀ · dy in partial sums, one for each `partPixels` output pixels (a multiple of the
  ;; chunk): pixels first .. last (whole parts) add into the partials at dk + part · kkc · f floats, each part's
  ;; first chunk storing and the others accumulating, chunks ascending; sumParts then adds the partials in order.
  ;; A second thread takes other parts, and each part is the same sum whichever thread runs it: the patches are
  ;; gathered once (a cut by rows of dk gathered every chunk on both threads) and parts balance the threads.
  (func (export "kernelGrad") (param $dk i32) (param $x i32) (param $dy i32) (param $patches i32) (param $chunk i32)
    (param $first i32) (param $last i32)
    (local $p0 i32) (local $count i32) (local $kkc i32) (local $part i32) (local $stop i32)
    (local.set $kkc (call $kkc))
    (local.set $p0 (local.get $first))
    (block $done
      (loop $chunks
        (br_if $done (i32.ge_u (local.get $p0) (local.get $last)))
        (local.set $part (i32.div_u (local.get $p0) (global.get $partPixels)))
        ;; chunks never cross a part's end
        (local.set $stop (i32.mul (i32.add (local.get $part) (i32.const 1)) (global.get $partPixels)))
        (if (i32.gt_u (local.get $stop) (local.get $last)) (then (local.set $stop (local.get $last))))
        (local.set $count (i32.sub (local.get $stop) (local.get $p0)))
        (if (i32.gt_u (local.get $count) (local.get $chunk)) (then (local.set $count (local.get $chunk))))
        (call $walk (local.get $patches) (local.get $x) (local.get $p0) (local.get $count) (i32.const 1))
        (call $gemm
          (i32.add (local.get $dk) (i32.shl (i32.mul (local.get $part) (i32.mul (local.get $kkc) (global.get $f))) (i32.const 2)))
          (local.get $patches)
          (i32.add (local.get $dy) (i32.shl (i32.mul (local.get $p0) (global.get $f)) (i32.const 2))) (i32.const 0)
          (local.get $kkc) (global.get $f) (local.get $count)
          (i32.const 4) (i32.shl (local.get $kkc) (i32.const 2))
          (i32.shl (global.get $f) (i32.const 2)) (i32.shl (global.get $f) (i32.const 2))
          (select (i32.const 1) (i32.const 0) (i32.rem_u (local.get $p0) (global.get $partPixels))) (i32.const 0))
        (local.set $p0 (i32.add (local.get $p0) (local.get $count)))
        (br $chunks))))

  ;; out[0 .. floats) = partials[0] + partials[1] + … + partials[parts − 1], each `floats` long one after another,
  ;; added in that order (out may be partials[0] itself)
  (func (export "sumParts") (param $out i32) (param $partials i32) (param $parts i32) (param $floats i32)
    (local $i i32) (local $q i32) (local $at i32) (local $bytes i32) (local $acc v128) (local $one f32)
    (local.set $bytes (i32.shl (local.get $floats) (i32.const 2)))
    (block $vectorsDone
      (loop $vectors
        (br_if $vectorsDone (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $bytes)))
        (local.set $at (i32.add (local.get $partials) (local.get $i)))
        (local.set $acc (v128.load (local.get $at)))
        (local.set $q (i32.const 1))
        (block $partsDone
          (loop $partsLoop
            (br_if $partsDone (i32.ge_u (local.get $q) (local.get $parts)))
            (local.set $at (i32.add (local.get $at) (local.get $bytes)))
            (local.set $acc (f32x4.add (local.get $acc) (v128.load (local.get $at))))
            (local.set $q (i32.add (local.get $q) (i32.const 1)))
            (br $partsLoop)))
        (v128.store (i32.add (local.get $out) (local.get $i)) (local.get $acc))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vectors)))
    (block $floatsDone
      (loop $floatsLoop
        (br_if $floatsDone (i32.ge_u (local.get $i) (local.get $bytes)))
        (local.set $at (i32.add (local.get $partials) (local.get $i)))
        (local.set $one (f32.load (local.get $at)))
        (local.set $q (i32.const 1))
        (block $partsDone
          (loop $partsLoop
            (br_if $partsDone (i32.ge_u (local.get $q) (local.get $parts)))
            (local.set $at (i32.add (local.get $at) (local.get $bytes)))
            (local.set $one (f32.add (local.get $one) (f32.load (local.get $at))))
            (local.set $q (i32.add (local.get $q) (i32.const 1)))
            (br $partsLoop)))
        (f32.store (i32.add (local.get $out) (local.get $i)) (local.get $one))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $floatsLoop))))

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
