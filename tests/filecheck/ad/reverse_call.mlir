// RUN: cofactor-opt %s -p ad-reverse | filecheck %s

// A call of a function with a body becomes a call of its augmented forward
// function in the forward sweep and of its reverse function at the mirrored
// point of the reverse sweep; both take the caller's caches. @g's exp result
// is needed by its reverse and cannot be recomputed there: the augmented
// function pushes it, the reverse one pops it. The pair is made once for the
// two calls in the loop (same activities, and the same arguments known finite:
// `_finite`), which reserves per iteration (the callee pushes too).
func.func @g(%x: f64, %y: f64) -> f64 {
  %e = math.exp %x : f64
  %p = arith.mulf %e, %y : f64
  func.return %p : f64
}

func.func @f(%x: f64, %n: i64) -> f64 {
  %lb = arith.constant 0 : i64
  %one = arith.constant 1 : i64
  %r = scf.for %i = %lb to %n step %one iter_args(%s = %x) -> (f64) : i64 {
    %a = func.call @g(%s, %x) : (f64, f64) -> f64
    %b = func.call @g(%a, %x) : (f64, f64) -> f64
    scf.yield %b : f64
  }
  func.return %r : f64
}

func.func @request(%x: f64, %n: i64, %s: f64) -> f64 {
  %0 = ad.autodiff @f(%x, %n, %s) {activity = [#ad<activity active>, #ad<activity const>], ret_activity = [#ad<activity activenoneed>]} : (f64, i64, f64) -> f64
  func.return %0 : f64
}

// CHECK-LABEL: func.func private @augmented_g_aa_a(%x: f64, %y: f64, %0: !ad.cache<f64>) -> f64 {
// CHECK-NEXT:    %e = math.exp %x : f64
// CHECK-NEXT:    %p = arith.mulf %e, %y : f64
// CHECK-NEXT:    %1 = arith.constant 1 : i64
// CHECK-NEXT:    ad.reserve %0, %1 : !ad.cache<f64>
// CHECK-NEXT:    ad.push %0, %e : !ad.cache<f64>
// CHECK-NEXT:    func.return %p : f64
// CHECK-NEXT:  }

// CHECK-LABEL: func.func private @reverse_g_aa_a(%x: f64, %y: f64, %0: f64, %1: !ad.cache<f64>) -> (f64, f64) {
// CHECK-NEXT:    %e = ad.pop %1 : !ad.cache<f64>
// CHECK-NEXT:    %2 = arith.mulf %y, %0 : f64
// CHECK-NEXT:    %3 = arith.mulf %e, %0 : f64
// CHECK-NEXT:    %4 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %5 = arith.cmpf oeq, %0, %4 : f64
// CHECK-NEXT:    %6 = arith.select %5, %4, %3 : f64
// CHECK-NEXT:    %7 = arith.mulf %e, %2 : f64
// CHECK-NEXT:    %8 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %9 = arith.cmpf oeq, %2, %8 : f64
// CHECK-NEXT:    %10 = arith.select %9, %8, %7 : f64
// CHECK-NEXT:    func.return %10, %6 : f64, f64
// CHECK-NEXT:  }

// CHECK-LABEL: func.func private @revdiff_f_ac_x(%x: f64, %n: i64, %0: f64) -> f64 {
// CHECK-NEXT:    %tape = ad.init : !ad.cache<f64>
// CHECK-NEXT:    %lb = arith.constant 0 : i64
// CHECK-NEXT:    %one = arith.constant 1 : i64
// CHECK-NEXT:    %r = scf.for %i = %lb to %n step %one iter_args(%s = %x) -> (f64) : i64 {
// CHECK-NEXT:      %a = func.call @augmented_g_aa_a(%s, %x, %tape) : (f64, f64, !ad.cache<f64>) -> f64
// CHECK-NEXT:      %b = func.call @augmented_g_aa_a(%a, %x, %tape) : (f64, f64, !ad.cache<f64>) -> f64
// CHECK-NEXT:      %1 = arith.constant 2 : i64
// CHECK-NEXT:      ad.reserve %tape, %1 : !ad.cache<f64>
// CHECK-NEXT:      ad.push %tape, %a : !ad.cache<f64>
// CHECK-NEXT:      ad.push %tape, %s : !ad.cache<f64>
// CHECK-NEXT:      scf.yield %b : f64
// CHECK-NEXT:    }
// CHECK-NEXT:    %2 = arith.cmpi sgt, %n, %lb : i64
// CHECK-NEXT:    %3 = arith.constant 0 : i64
// CHECK-NEXT:    %4 = arith.select %2, %n, %3 : i64
// CHECK-NEXT:    %5 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %6 = arith.constant 1 : i64
// CHECK-NEXT:    %7, %8 = scf.for %9 = %3 to %4 step %6 iter_args(%10 = %0, %11 = %5) -> (f64, f64) : i64 {
// CHECK-NEXT:      %s_1 = ad.pop %tape : !ad.cache<f64>
// CHECK-NEXT:      %a_1 = ad.pop %tape : !ad.cache<f64>
// CHECK-NEXT:      %12 = arith.constant 1 : i64
// CHECK-NEXT:      %13 = arith.subi %4, %12 : i64
// CHECK-NEXT:      %14 = arith.subi %13, %9 : i64
// CHECK-NEXT:      %15 = arith.muli %14, %one : i64
// CHECK-NEXT:      %i_1 = arith.addi %lb, %15 : i64
// CHECK-NEXT:      %16, %17 = func.call @reverse_g_aa_a(%a_1, %x, %10, %tape) : (f64, f64, f64, !ad.cache<f64>) -> (f64, f64)
// CHECK-NEXT:      %18 = arith.addf %11, %17 : f64
// CHECK-NEXT:      %19, %20 = func.call @reverse_g_aa_a(%s_1, %x, %16, %tape) : (f64, f64, f64, !ad.cache<f64>) -> (f64, f64)
// CHECK-NEXT:      %21 = arith.addf %18, %20 : f64
// CHECK-NEXT:      scf.yield %19, %21 : f64, f64
// CHECK-NEXT:    } {ad.adjoint}
// CHECK-NEXT:    func.return %8 : f64
// CHECK-NEXT:  }
