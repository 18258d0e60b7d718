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
// CHECK-NEXT:      %4 = arith.mulf %3, %ds : f64
// CHECK-NEXT:      %5 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:      %6 = arith.cmpf oeq, %ds, %5 : f64
// CHECK-NEXT:      %dt = arith.select %6, %5, %4 : f64
// CHECK-NEXT:      ad.push %tape, %s : !ad.cache<f64>
// CHECK-NEXT:      ad.push %dtape, %ds : !ad.cache<f64>
// CHECK-NEXT:      scf.yield %t, %dt : f64, f64
// CHECK-NEXT:    }
// CHECK-NEXT:    %7 = arith.cmpi sgt, %n, %lb : i64
// CHECK-NEXT:    %8 = arith.constant 0 : i64
// CHECK-NEXT:    %9 = arith.select %7, %n, %8 : i64
// CHECK-NEXT:    %10 = arith.constant 1 : i64
// CHECK-NEXT:    %11 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %12, %13 = scf.for %14 = %8 to %9 step %10 iter_args(%15 = %0, %16 = %11) -> (f64, f64) : i64 {
// CHECK-NEXT:      %s_1 = ad.pop %tape : !ad.cache<f64>
// CHECK-NEXT:      %ds_1 = ad.pop %dtape : !ad.cache<f64>
// CHECK-NEXT:      %17 = arith.constant 1 : i64
// CHECK-NEXT:      %18 = arith.subi %9, %17 : i64
// CHECK-NEXT:      %19 = arith.subi %18, %14 : i64
// CHECK-NEXT:      %20 = arith.muli %19, %one : i64
// CHECK-NEXT:      %i_1 = arith.addi %lb, %20 : i64
// CHECK-NEXT:      %21 = math.cos %s_1 : f64
// CHECK-NEXT:      %22 = math.sin %s_1 : f64
// CHECK-NEXT:      %23 = arith.negf %22 : f64
// CHECK-NEXT:      %24 = arith.mulf %23, %ds_1 : f64
// CHECK-NEXT:      %25 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:      %26 = arith.cmpf oeq, %ds_1, %25 : f64
// CHECK-NEXT:      %27 = arith.select %26, %25, %24 : f64
// CHECK-NEXT:      %28 = arith.mulf %21, %15 : f64
// CHECK-NEXT:      %29 = arith.mulf %15, %27 : f64
// CHECK-NEXT:      %30 = arith.cmpf oeq, %27, %25 : f64
// CHECK-NEXT:      %31 = arith.select %30, %25, %29 : f64
// CHECK-NEXT:      %32 = arith.mulf %21, %16 : f64
// CHECK-NEXT:      %33 = arith.cmpf oeq, %16, %25 : f64
// CHECK-NEXT:      %34 = arith.select %33, %25, %32 : f64
// CHECK-NEXT:      %35 = arith.addf %31, %34 : f64
// CHECK-NEXT:      %36 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:      %37 = arith.cmpf oeq, %15, %36 : f64
// CHECK-NEXT:      %38 = arith.select %37, %36, %28 : f64
// CHECK-NEXT:      %39 = arith.select %37, %25, %35 : f64
// CHECK-NEXT:      scf.yield %38, %39 : f64, f64
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %12, %13 : f64, f64
// CHECK-NEXT:  }
