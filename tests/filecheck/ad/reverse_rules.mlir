// RUN: cofactor-opt %s -p ad-reverse | filecheck %s

// Adjoint rules, one table entry per op: adjoint_i += d_i * ybar with the
// partials of _tangent_rules. A product with a partial that is not a finite
// constant is checked (a zero ybar gives zero), add/sub/neg need no product,
// max passes ybar through by its condition.

// y = x * exp(x) / z
func.func @chain(%x: f64, %z: f64) -> f64 {
  %e = math.exp %x : f64
  %p = arith.mulf %x, %e : f64
  %y = arith.divf %p, %z : f64
  func.return %y : f64
}

// y = max(x, c) - 2 x (f32 widened to f64)
func.func @passthrough(%x: f32) -> f64 {
  %w = arith.extf %x : f32 to f64
  %c = arith.constant 1.5 : f64
  %two = arith.constant 2.0 : f64
  %m = arith.maximumf %w, %c : f64
  %t = arith.mulf %two, %w : f64
  %y = arith.subf %m, %t : f64
  func.return %y : f64
}

func.func @requests(%x: f64, %z: f64, %s: f64, %h: f32) -> (f64, f64, f32) {
  %g:2 = ad.autodiff @chain(%x, %z, %s) {activity = [#ad<activity active>, #ad<activity active>], ret_activity = [#ad<activity activenoneed>]} : (f64, f64, f64) -> (f64, f64)
  %p = ad.autodiff @passthrough(%h, %s) {activity = [#ad<activity active>], ret_activity = [#ad<activity activenoneed>]} : (f32, f64) -> f32
  func.return %g#0, %g#1, %p : f64, f64, f32
}

// exp's partial is its result; the division's two partials share ybar, the
// second product tests it with a compare of its own (|ybar| below the
// smallest subnormal: the same test).
// CHECK-LABEL: func.func private @revdiff_chain_aa_x(%x: f64, %z: f64, %0: f64) -> (f64, f64) {
// CHECK-NEXT:    %e = math.exp %x : f64
// CHECK-NEXT:    %p = arith.mulf %x, %e : f64
// CHECK-NEXT:    %y = arith.divf %p, %z : f64
// CHECK-NEXT:    %1 = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    %2 = arith.divf %1, %z : f64
// CHECK-NEXT:    %3 = arith.divf %y, %z : f64
// CHECK-NEXT:    %4 = arith.negf %3 : f64
// CHECK-NEXT:    %5 = arith.mulf %2, %0 : f64
// CHECK-NEXT:    %6 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %7 = arith.cmpf oeq, %0, %6 : f64
// CHECK-NEXT:    %8 = arith.select %7, %6, %5 : f64
// CHECK-NEXT:    %9 = arith.mulf %4, %0 : f64
// CHECK-NEXT:    %10 = arith.constant 4.940660e-324 : f64
// CHECK-NEXT:    %11 = math.absf %0 : f64
// CHECK-NEXT:    %12 = arith.cmpf olt, %11, %10 : f64
// CHECK-NEXT:    %13 = arith.select %12, %6, %9 : f64
// CHECK-NEXT:    %14 = arith.mulf %e, %8 : f64
// CHECK-NEXT:    %15 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %16 = arith.cmpf oeq, %8, %15 : f64
// CHECK-NEXT:    %17 = arith.select %16, %15, %14 : f64
// CHECK-NEXT:    %18 = arith.mulf %x, %8 : f64
// CHECK-NEXT:    %19 = arith.mulf %e, %18 : f64
// CHECK-NEXT:    %20 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %21 = arith.cmpf oeq, %18, %20 : f64
// CHECK-NEXT:    %22 = arith.select %21, %20, %19 : f64
// CHECK-NEXT:    %23 = arith.addf %17, %22 : f64
// CHECK-NEXT:    func.return %23, %13 : f64, f64
// CHECK-NEXT:  }

// max passes ybar by its condition (no product), the constant 2 needs no
// check, and the adjoint of x is truncated back to f32.
// CHECK-LABEL: func.func private @revdiff_passthrough_a_x(%x: f32, %0: f64) -> f32 {
// CHECK-NEXT:    %w = arith.extf %x : f32 to f64
// CHECK-NEXT:    %c = arith.constant 1.500000e+00 : f64
// CHECK-NEXT:    %two = arith.constant 2.000000e+00 : f64
// CHECK-NEXT:    %m = arith.maximumf %w, %c : f64
// CHECK-NEXT:    %t = arith.mulf %two, %w : f64
// CHECK-NEXT:    %y = arith.subf %m, %t : f64
// CHECK-NEXT:    %1 = arith.negf %0 : f64
// CHECK-NEXT:    %2 = arith.mulf %two, %1 : f64
// CHECK-NEXT:    %3 = arith.cmpf olt, %w, %c : f64
// CHECK-NEXT:    %4 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %5 = arith.select %3, %4, %0 : f64
// CHECK-NEXT:    %6 = arith.addf %2, %5 : f64
// CHECK-NEXT:    %7 = arith.truncf %6 : f64 to f32
// CHECK-NEXT:    func.return %7 : f32
// CHECK-NEXT:  }
