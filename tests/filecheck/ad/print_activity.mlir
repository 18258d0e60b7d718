// RUN: cofactor-opt %s -p print-activity | filecheck %s

// Activity of @f for the request below (x dup, result 0 dupnoneed, result 1
// const): active = varied (reached from x) and useful (reaches result 0).
// - %u depends on y only: const; %w is varied but reaches only the const result.
// - %one is useful (it starts the loop) but not varied.
// - the const array %a becomes active: an active value is stored into it and
//   loaded back on the way to result 0, so it needs a shadow of its own.

func.func @f(%x: f64, %y: f64, %a: memref<?xf64, strided<[?], offset: ?>>, %n: i64) -> (f64, f64) {
  %c0 = arith.constant 0 : index
  %one = arith.constant 1.0 : f64
  %s = math.sin %x : f64
  %t = arith.mulf %s, %y : f64
  %u = math.cos %y : f64
  memref.store %t, %a[%c0] : memref<?xf64, strided<[?], offset: ?>>
  %l = memref.load %a[%c0] : memref<?xf64, strided<[?], offset: ?>>
  %lb = arith.constant 0 : i64
  %st = arith.constant 1 : i64
  %r = scf.for %i = %lb to %n step %st iter_args(%acc = %one) -> (f64) : i64 {
    %m = arith.mulf %acc, %l : f64
    scf.yield %m : f64
  }
  %w = arith.addf %u, %x : f64
  func.return %r, %w : f64, f64
}

func.func @d(%x: f64, %dx: f64, %y: f64, %a: memref<?xf64, strided<[?], offset: ?>>, %n: i64) -> f64 {
  %r:2 = ad.fwddiff @f(%x, %dx, %y, %a, %n) {activity = [#ad<activity dup>, #ad<activity const>, #ad<activity const>, #ad<activity const>], ret_activity = [#ad<activity dupnoneed>, #ad<activity const>]} : (f64, f64, f64, memref<?xf64, strided<[?], offset: ?>>, i64) -> (f64, f64)
  func.return %r#0 : f64
}

// Calls: a callee summary says @store_square makes its array argument
// varied; %b is also useful (loaded for the result) so it is active, %c is only
// varied.

func.func @store_square(%b: memref<?xf64>, %x: f64) {
  %c0 = arith.constant 0 : index
  %y = arith.mulf %x, %x : f64
  memref.store %y, %b[%c0] : memref<?xf64>
  func.return
}

func.func @g(%x: f64, %n: index) -> f64 {
  %c0 = arith.constant 0 : index
  %b = memref.alloc(%n) : memref<?xf64>
  %c = memref.alloc(%n) : memref<?xf64>
  func.call @store_square(%b, %x) : (memref<?xf64>, f64) -> ()
  func.call @store_square(%c, %x) : (memref<?xf64>, f64) -> ()
  %v = memref.load %b[%c0] : memref<?xf64>
  func.return %v : f64
}

func.func @dg(%x: f64, %dx: f64, %n: index) -> f64 {
  %r = ad.fwddiff @g(%x, %dx, %n) {activity = [#ad<activity dup>, #ad<activity const>], ret_activity = [#ad<activity dupnoneed>]} : (f64, f64, index) -> f64
  func.return %r : f64
}

// CHECK-LABEL: func.func @f(%x: f64, %y: f64, %a: memref<?xf64, strided<[?], offset: ?>>, %n: i64) -> (f64, f64) attributes {activity = "active, useful, active, const"} {
// CHECK-NEXT:    %c0 = arith.constant {activity = "const"} 0 : index
// CHECK-NEXT:    %one = arith.constant {activity = "useful"} 1.000000e+00 : f64
// CHECK-NEXT:    %s = math.sin %x {activity = "active"} : f64
// CHECK-NEXT:    %t = arith.mulf %s, %y {activity = "active"} : f64
// CHECK-NEXT:    %u = math.cos %y {activity = "const"} : f64
// CHECK-NEXT:    memref.store %t, %a[%c0] {activity = "active"} : memref<?xf64, strided<[?], offset: ?>>
// CHECK-NEXT:    %l = memref.load %a[%c0] {activity = "active"} : memref<?xf64, strided<[?], offset: ?>>
// CHECK-NEXT:    %lb = arith.constant {activity = "const"} 0 : i64
// CHECK-NEXT:    %st = arith.constant {activity = "const"} 1 : i64
// CHECK-NEXT:    %r = scf.for %i = %lb to %n step %st iter_args(%acc = %one) -> (f64) : i64 {
// CHECK-NEXT:      %m = arith.mulf %acc, %l {activity = "active"} : f64
// CHECK-NEXT:      scf.yield %m : f64
// CHECK-NEXT:    } {activity = "active"}
// CHECK-NEXT:    %w = arith.addf %u, %x {activity = "varied"} : f64
// CHECK-NEXT:    func.return %r, %w : f64, f64
// CHECK-NEXT:  }

// CHECK-LABEL: func.func @g(%x: f64, %n: index) -> f64 attributes {activity = "active, const"} {
// CHECK-NEXT:    %c0 = arith.constant {activity = "const"} 0 : index
// CHECK-NEXT:    %b = memref.alloc(%n) {activity = "active"} : memref<?xf64>
// CHECK-NEXT:    %c = memref.alloc(%n) {activity = "varied"} : memref<?xf64>
// CHECK-NEXT:    func.call @store_square(%b, %x) : (memref<?xf64>, f64) -> ()
// CHECK-NEXT:    func.call @store_square(%c, %x) : (memref<?xf64>, f64) -> ()
// CHECK-NEXT:    %v = memref.load %b[%c0] {activity = "active"} : memref<?xf64>
// CHECK-NEXT:    func.return %v : f64
// CHECK-NEXT:  }
