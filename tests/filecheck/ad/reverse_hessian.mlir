// RUN: cofactor-opt %s -p ad-reverse,ad-forward | filecheck %s

// Forward over reverse: ad-forward differentiates the gradient that
// ad-reverse made. A cache holding active values gets a tangent cache: each
// reservation, push and pop is repeated on it.
func.func @f(%x: f64, %n: i64) -> f64 {
  %lb = arith.constant 0 : i64
  %one = arith.constant 1 : i64
  %r = scf.for %i = %lb to %n step %one iter_args(%s = %x) -> (f64) : i64 {
    %t = math.sin %s : f64
    scf.yield %t : f64
  }
  func.return %r : f64
}

func.func @gradient(%x: f64, %n: i64, %seed: f64) -> f64 {
  %g = ad.autodiff @f(%x, %n, %seed) {activity = [#ad<activity active>, #ad<activity const>], ret_activity = [#ad<activity activenoneed>]} : (f64, i64, f64) -> f64
  func.return %g : f64
}

// The second derivative of f times %v.
func.func @hessian(%x: f64, %v: f64, %n: i64, %seed: f64) -> f64 {
  %h = ad.fwddiff @gradient(%x, %v, %n, %seed) {activity = [#ad<activity dup>, #ad<activity const>, #ad<activity const>], ret_activity = [#ad<activity dupnoneed>]} : (f64, f64, i64, f64) -> f64
  func.return %h : f64
}

// CHECK-LABEL: func.func private @fwddiff_revdiff_f_ac_x_dcc_d(%x: f64, %dx: f64, %n: i64, %0: f64) -> (f64, f64) {
// CHECK-NEXT:    %tape = ad.init : !ad.cache<f64>
// CHECK-NEXT:    %dtape = ad.init : !ad.cache<f64>
// CHECK-NEXT:    %lb = arith.constant 0 : i64
// CHECK-NEXT:    %one = arith.constant 1 : i64
// CHECK-NEXT:    %1 = arith.cmpi sgt, %n, %lb : i64
// CHECK-NEXT:    %2 = arith.constant 0 : i64
// CHECK-NEXT:    %cache_size = arith.select %1, %n, %2 : i64
// CHECK-NEXT:    ad.reserve %tape, %cache_size : !ad.cache<f64>
// CHECK-NEXT:    ad.reserve %dtape, %cache_size : !ad.cache<f64>
// CHECK-NEXT:    %r, %dr = scf.for %i = %lb to %n step %one iter_args(%s = %x, %ds = %dx) -> (f64, f64) : i64 {
// CHECK-NEXT:      %t = math.sin %s : f64
// CHECK-NEXT:      %3 = math.cos %s : f64
// CHECK-NEXT:      %dt = arith.mulf %3, %ds : f64
// CHECK-NEXT:      ad.push %tape, %s : !ad.cache<f64>
// CHECK-NEXT:      ad.push %dtape, %ds : !ad.cache<f64>
// CHECK-NEXT:      scf.yield %t, %dt : f64, f64
// CHECK-NEXT:    }
// CHECK-NEXT:    %4 = arith.cmpi sgt, %n, %lb : i64
// CHECK-NEXT:    %5 = arith.constant 0 : i64
// CHECK-NEXT:    %6 = arith.select %4, %n, %5 : i64
// CHECK-NEXT:    %7 = arith.constant 1 : i64
// CHECK-NEXT:    %8 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %9, %10 = scf.for %11 = %5 to %6 step %7 iter_args(%12 = %0, %13 = %8) -> (f64, f64) : i64 {
// CHECK-NEXT:      %s_1 = ad.pop %tape : !ad.cache<f64>
// CHECK-NEXT:      %ds_1 = ad.pop %dtape : !ad.cache<f64>
// CHECK-NEXT:      %14 = arith.constant 1 : i64
// CHECK-NEXT:      %15 = arith.subi %6, %14 : i64
// CHECK-NEXT:      %16 = arith.subi %15, %11 : i64
// CHECK-NEXT:      %17 = arith.muli %16, %one : i64
// CHECK-NEXT:      %i_1 = arith.addi %lb, %17 : i64
// CHECK-NEXT:      %18 = math.cos %s_1 : f64
// CHECK-NEXT:      %19 = math.sin %s_1 : f64
// CHECK-NEXT:      %20 = arith.negf %19 : f64
// CHECK-NEXT:      %21 = arith.mulf %20, %ds_1 : f64
// CHECK-NEXT:      %22 = arith.mulf %18, %12 : f64
// CHECK-NEXT:      %23 = arith.mulf %12, %21 : f64
// CHECK-NEXT:      %24 = arith.mulf %18, %13 : f64
// CHECK-NEXT:      %25 = arith.addf %23, %24 : f64
// CHECK-NEXT:      scf.yield %22, %25 : f64, f64
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %9, %10 : f64, f64
// CHECK-NEXT:  }
