// RUN: cofactor-opt %s -p inline-small-calls | filecheck %s

// A straight-line arith/math callee is copied into each caller in place of the
// call, its arguments replaced by the call's operands and its result by the
// returned value; a callee with a loop, a write or a call of its own is left
// as a call.
func.func @accel(%x: f64, %v: f64, %mu: f64) -> f64 {
  %one = arith.constant 1.000000e+00 : f64
  %xx = arith.mulf %x, %x : f64
  %d = arith.subf %one, %xx : f64
  %m = arith.mulf %mu, %d : f64
  %a = arith.mulf %m, %v : f64
  %r = arith.subf %a, %x : f64
  func.return %r : f64
}

func.func @first(%x: f64, %v: f64) -> f64 {
  func.return %x : f64
}

func.func @looped(%x: f64, %n: i64) -> f64 {
  %lb = arith.constant 0 : i64
  %one = arith.constant 1 : i64
  %r = scf.for %i = %lb to %n step %one iter_args(%s = %x) -> (f64) : i64 {
    %t = arith.mulf %s, %x : f64
    scf.yield %t : f64
  }
  func.return %r : f64
}

func.func @writes(%a: memref<?xf64>, %x: f64) -> f64 {
  %c0 = arith.constant 0 : index
  memref.store %x, %a[%c0] : memref<?xf64>
  func.return %x : f64
}

func.func @calls(%x: f64) -> f64 {
  %r = func.call @accel(%x, %x, %x) : (f64, f64, f64) -> f64
  func.return %r : f64
}

func.func @step(%x: f64, %v: f64, %mu: f64, %n: i64, %a: memref<?xf64>) -> f64 {
  %a1 = func.call @accel(%x, %v, %mu) : (f64, f64, f64) -> f64
  %a2 = func.call @accel(%a1, %x, %mu) : (f64, f64, f64) -> f64
  %f = func.call @first(%a2, %v) : (f64, f64) -> f64
  %l = func.call @looped(%f, %n) : (f64, i64) -> f64
  %w = func.call @writes(%a, %l) : (memref<?xf64>, f64) -> f64
  func.return %w : f64
}

// CHECK-LABEL: func.func @calls(%x: f64) -> f64 {
// CHECK-NEXT:    %one = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    %xx = arith.mulf %x, %x : f64
// CHECK-NEXT:    %d = arith.subf %one, %xx : f64
// CHECK-NEXT:    %m = arith.mulf %x, %d : f64
// CHECK-NEXT:    %a = arith.mulf %m, %x : f64
// CHECK-NEXT:    %r = arith.subf %a, %x : f64
// CHECK-NEXT:    func.return %r : f64
// CHECK-NEXT:  }

// CHECK-LABEL: func.func @step(
// CHECK-NEXT:    %one = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    %xx = arith.mulf %x, %x : f64
// CHECK-NEXT:    %d = arith.subf %one, %xx : f64
// CHECK-NEXT:    %m = arith.mulf %mu, %d : f64
// CHECK-NEXT:    %a_1 = arith.mulf %m, %v : f64
// CHECK-NEXT:    %r = arith.subf %a_1, %x : f64
// CHECK-NEXT:    %one_1 = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    %xx_1 = arith.mulf %r, %r : f64
// CHECK-NEXT:    %d_1 = arith.subf %one_1, %xx_1 : f64
// CHECK-NEXT:    %m_1 = arith.mulf %mu, %d_1 : f64
// CHECK-NEXT:    %a_2 = arith.mulf %m_1, %x : f64
// CHECK-NEXT:    %r_1 = arith.subf %a_2, %r : f64
// CHECK-NEXT:    %l = func.call @looped(%r_1, %n) : (f64, i64) -> f64
// CHECK-NEXT:    %w = func.call @writes(%a, %l) : (memref<?xf64>, f64) -> f64
// CHECK-NEXT:    func.return %w : f64
// CHECK-NEXT:  }
