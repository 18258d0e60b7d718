// RUN: cofactor-opt %s -p ad-forward | filecheck %s

// scf ops carry the tangents of active values as extra iter_args, condition
// and yield operands and results; inactive ones (the counter) carry none.

// s = 1; for i < n: s = s * x  ->  ds carried next to s.
func.func @power(%x: f64, %n: i64) -> f64 {
  %one = arith.constant 1.0 : f64
  %lb = arith.constant 0 : i64
  %step = arith.constant 1 : i64
  %r = scf.for %i = %lb to %n step %step iter_args(%s = %one) -> (f64) : i64 {
    %t = arith.mulf %s, %x : f64
    scf.yield %t : f64
  }
  func.return %r : f64
}

// if x > 0 then x * x else 0 (the else tangent is zero).
func.func @branch(%x: f64) -> f64 {
  %zero = arith.constant 0.0 : f64
  %c = arith.cmpf ogt, %x, %zero : f64
  %r = scf.if %c -> (f64) {
    %sq = arith.mulf %x, %x : f64
    scf.yield %sq : f64
  } else {
    scf.yield %zero : f64
  }
  func.return %r : f64
}

// while v < 10: v = v * 3, counting steps.
func.func @grow(%x: f64) -> (f64, i64) {
  %ten = arith.constant 10.0 : f64
  %three = arith.constant 3.0 : f64
  %k0 = arith.constant 0 : i64
  %k1 = arith.constant 1 : i64
  %r:2 = scf.while (%v = %x, %k = %k0) : (f64, i64) -> (f64, i64) {
    %more = arith.cmpf olt, %v, %ten : f64
    scf.condition(%more) %v, %k : f64, i64
  } do {
  ^bb0(%w: f64, %j: i64):
    %w3 = arith.mulf %w, %three : f64
    %j1 = arith.addi %j, %k1 : i64
    scf.yield %w3, %j1 : f64, i64
  }
  func.return %r#0, %r#1 : f64, i64
}

func.func @requests(%x: f64, %dx: f64, %n: i64) -> (f64, f64, f64) {
  %0 = ad.fwddiff @power(%x, %dx, %n) {activity = [#ad<activity dup>, #ad<activity const>], ret_activity = [#ad<activity dupnoneed>]} : (f64, f64, i64) -> f64
  %1 = ad.fwddiff @branch(%x, %dx) {activity = [#ad<activity dup>], ret_activity = [#ad<activity dupnoneed>]} : (f64, f64) -> f64
  %2:2 = ad.fwddiff @grow(%x, %dx) {activity = [#ad<activity dup>], ret_activity = [#ad<activity dupnoneed>, #ad<activity const>]} : (f64, f64) -> (i64, f64)
  func.return %0, %1, %2#1 : f64, f64, f64
}

// scf.for: %ds is carried next to %s, starting at 0.
// CHECK-LABEL: func.func private @fwddiff_power_dc_n(%x: f64, %dx: f64, %n: i64) -> f64 {
// CHECK-NEXT:    %one = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    %lb = arith.constant 0 : i64
// CHECK-NEXT:    %step = arith.constant 1 : i64
// CHECK-NEXT:    %0 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %r, %dr = scf.for %i = %lb to %n step %step iter_args(%s = %one, %ds = %0) -> (f64, f64) : i64 {
// CHECK-NEXT:      %t = arith.mulf %s, %x : f64
// CHECK-NEXT:      %1 = arith.mulf %x, %ds : f64
// CHECK-NEXT:      %2 = arith.mulf %s, %dx : f64
// CHECK-NEXT:      %dt = arith.addf %1, %2 : f64
// CHECK-NEXT:      scf.yield %t, %dt : f64, f64
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %dr : f64
// CHECK-NEXT:  }

// scf.if: each branch yields its tangent.
// CHECK-LABEL: func.func private @fwddiff_branch_d_n(%x: f64, %dx: f64) -> f64 {
// CHECK-NEXT:    %zero = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %c = arith.cmpf ogt, %x, %zero : f64
// CHECK-NEXT:    %r, %dr = scf.if %c -> (f64, f64) {
// CHECK-NEXT:      %sq = arith.mulf %x, %x : f64
// CHECK-NEXT:      %0 = arith.mulf %x, %dx : f64
// CHECK-NEXT:      %dsq = arith.addf %0, %0 : f64
// CHECK-NEXT:      scf.yield %sq, %dsq : f64, f64
// CHECK-NEXT:    } else {
// CHECK-NEXT:      %1 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:      scf.yield %zero, %1 : f64, f64
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %dr : f64
// CHECK-NEXT:  }

// scf.while: before and after regions carry %dv/%dw; the counter stays primal.
// CHECK-LABEL: func.func private @fwddiff_grow_d_nc(%x: f64, %dx: f64) -> (i64, f64) {
// CHECK-NEXT:    %ten = arith.constant 1.000000e+01 : f64
// CHECK-NEXT:    %three = arith.constant 3.000000e+00 : f64
// CHECK-NEXT:    %k0 = arith.constant 0 : i64
// CHECK-NEXT:    %k1 = arith.constant 1 : i64
// CHECK-NEXT:    %r, %r_1, %dr = scf.while (%v = %x, %k = %k0, %dv = %dx) : (f64, i64, f64) -> (f64, i64, f64) {
// CHECK-NEXT:      %more = arith.cmpf olt, %v, %ten : f64
// CHECK-NEXT:      scf.condition(%more) %v, %k, %dv : f64, i64, f64
// CHECK-NEXT:    } do {
// CHECK-NEXT:    ^bb0(%w: f64, %j: i64, %dw: f64):
// CHECK-NEXT:      %w3 = arith.mulf %w, %three : f64
// CHECK-NEXT:      %dw3 = arith.mulf %three, %dw : f64
// CHECK-NEXT:      %j1 = arith.addi %j, %k1 : i64
// CHECK-NEXT:      scf.yield %w3, %j1, %dw3 : f64, i64, f64
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %r_1, %dr : i64, f64
// CHECK-NEXT:  }
