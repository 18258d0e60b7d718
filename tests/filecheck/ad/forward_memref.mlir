// RUN: cofactor-opt %s -p ad-forward | filecheck %s

// Arrays that can hold active values get shadow arrays: a dup argument takes
// the caller's shadow, an alloc gets a zero-filled shadow alloc (casts follow
// it), a load of an active value loads the shadow, a store stores the tangent
// (zero for a constant).

// a[i] = a[i] * x; a[j] = 2.0
func.func @scale(%a: memref<?xf64, strided<[?], offset: ?>>, %x: f64, %i: index, %j: index) {
  %v = memref.load %a[%i] : memref<?xf64, strided<[?], offset: ?>>
  %w = arith.mulf %v, %x : f64
  memref.store %w, %a[%i] : memref<?xf64, strided<[?], offset: ?>>
  %two = arith.constant 2.0 : f64
  memref.store %two, %a[%j] : memref<?xf64, strided<[?], offset: ?>>
  func.return
}

// b = alloc(n); b[0] = x * x; return b[0]
func.func @local(%x: f64, %n: index) -> f64 {
  %c0 = arith.constant 0 : index
  %m = memref.alloc(%n) : memref<?xf64>
  %b = "memref.cast"(%m) : (memref<?xf64>) -> memref<?xf64, strided<[?], offset: ?>>
  %sq = arith.mulf %x, %x : f64
  memref.store %sq, %b[%c0] : memref<?xf64, strided<[?], offset: ?>>
  %r = memref.load %b[%c0] : memref<?xf64, strided<[?], offset: ?>>
  func.return %r : f64
}

func.func @requests(%a: memref<?xf64, strided<[?], offset: ?>>, %da: memref<?xf64, strided<[?], offset: ?>>, %x: f64, %i: index, %n: index) -> f64 {
  ad.fwddiff @scale(%a, %da, %x, %i, %i) {activity = [#ad<activity dup>, #ad<activity const>, #ad<activity const>, #ad<activity const>], ret_activity = []} : (memref<?xf64, strided<[?], offset: ?>>, memref<?xf64, strided<[?], offset: ?>>, f64, index, index) -> ()
  %r = ad.fwddiff @local(%x, %x, %n) {activity = [#ad<activity dup>, #ad<activity const>], ret_activity = [#ad<activity dupnoneed>]} : (f64, f64, index) -> f64
  func.return %r : f64
}

// The load of an active value loads the shadow; storing the constant 2.0
// stores a zero tangent.
// CHECK-LABEL: func.func private @fwddiff_scale_dccc_(%a: memref<?xf64, strided<[?], offset: ?>>, %da: memref<?xf64, strided<[?], offset: ?>>, %x: f64, %i: index, %j: index) {
// CHECK-NEXT:    %v = memref.load %a[%i] : memref<?xf64, strided<[?], offset: ?>>
// CHECK-NEXT:    %dv = memref.load %da[%i] : memref<?xf64, strided<[?], offset: ?>>
// CHECK-NEXT:    %w = arith.mulf %v, %x : f64
// CHECK-NEXT:    %dw = arith.mulf %x, %dv : f64
// CHECK-NEXT:    memref.store %w, %a[%i] : memref<?xf64, strided<[?], offset: ?>>
// CHECK-NEXT:    memref.store %dw, %da[%i] : memref<?xf64, strided<[?], offset: ?>>
// CHECK-NEXT:    %two = arith.constant 2.000000e+00 : f64
// CHECK-NEXT:    memref.store %two, %a[%j] : memref<?xf64, strided<[?], offset: ?>>
// CHECK-NEXT:    %0 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    memref.store %0, %da[%j] : memref<?xf64, strided<[?], offset: ?>>
// CHECK-NEXT:    func.return
// CHECK-NEXT:  }

// The alloc's shadow is zero-filled; the cast applies to the shadow too.
// CHECK-LABEL: func.func private @fwddiff_local_dc_n(%x: f64, %dx: f64, %n: index) -> f64 {
// CHECK-NEXT:    %c0 = arith.constant 0 : index
// CHECK-NEXT:    %m = memref.alloc(%n) : memref<?xf64>
// CHECK-NEXT:    %dm = memref.alloc(%n) : memref<?xf64>
// CHECK-NEXT:    %0 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %1 = arith.constant 0 : index
// CHECK-NEXT:    %2 = memref.dim %dm, %1 : memref<?xf64>
// CHECK-NEXT:    %3 = arith.index_cast %2 : index to i64
// CHECK-NEXT:    %4 = arith.constant 0 : i64
// CHECK-NEXT:    %5 = arith.constant 1 : i64
// CHECK-NEXT:    scf.for %6 = %4 to %3 step %5 : i64 {
// CHECK-NEXT:      %7 = arith.index_cast %6 : i64 to index
// CHECK-NEXT:      memref.store %0, %dm[%7] : memref<?xf64>
// CHECK-NEXT:    }
// CHECK-NEXT:    %b = "memref.cast"(%m) : (memref<?xf64>) -> memref<?xf64, strided<[?], offset: ?>>
// CHECK-NEXT:    %db = "memref.cast"(%dm) : (memref<?xf64>) -> memref<?xf64, strided<[?], offset: ?>>
// CHECK-NEXT:    %sq = arith.mulf %x, %x : f64
// CHECK-NEXT:    %8 = arith.mulf %x, %dx : f64
// CHECK-NEXT:    %dsq = arith.addf %8, %8 : f64
// CHECK-NEXT:    memref.store %sq, %b[%c0] : memref<?xf64, strided<[?], offset: ?>>
// CHECK-NEXT:    memref.store %dsq, %db[%c0] : memref<?xf64, strided<[?], offset: ?>>
// CHECK-NEXT:    %r = memref.load %b[%c0] : memref<?xf64, strided<[?], offset: ?>>
// CHECK-NEXT:    %dr = memref.load %db[%c0] : memref<?xf64, strided<[?], offset: ?>>
// CHECK-NEXT:    func.return %dr : f64
// CHECK-NEXT:  }
