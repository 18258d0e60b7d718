// RUN: cofactor-opt %s -p ad-reverse | filecheck %s

// scf.for runs backwards over its trip count; the loop-carried value it needs
// is pushed once per iteration (a slot for each reserved before the loop) and
// popped at the top of the reverse body; the counter is recomputed.
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

// scf.while counts its iterations and is reversed as an scf.for over
// count + 1 executions of the before region, the after region under an
// scf.if; its pushes reserve per iteration. The condition depends on
// nothing active, so nothing is pushed for it.
func.func @grow(%x: f64, %limit: i64) -> f64 {
  %k0 = arith.constant 0 : i64
  %k1 = arith.constant 1 : i64
  %r:2 = scf.while (%v = %x, %k = %k0) : (f64, i64) -> (f64, i64) {
    %more = arith.cmpi slt, %k, %limit : i64
    scf.condition(%more) %v, %k : f64, i64
  } do {
  ^bb0(%w: f64, %j: i64):
    %w2 = arith.mulf %w, %w : f64
    %j1 = arith.addi %j, %k1 : i64
    scf.yield %w2, %j1 : f64, i64
  }
  func.return %r#0 : f64
}

// scf.if is reversed under the same condition, recomputed here from the
// cached loop-carried %s rather than cached itself; an scf.if with nothing
// active inside (the integer %c) is not reversed.
func.func @branch(%x: f64, %n: i64) -> f64 {
  %one = arith.constant 1.0 : f64
  %lb = arith.constant 0 : i64
  %step = arith.constant 1 : i64
  %r:2 = scf.for %i = %lb to %n step %step iter_args(%s = %x, %c = %lb) -> (f64, i64) : i64 {
    %big = arith.cmpf ogt, %s, %one : f64
    %t = scf.if %big -> (f64) {
      %m = arith.mulf %s, %x : f64
      scf.yield %m : f64
    } else {
      %a = arith.addf %s, %x : f64
      scf.yield %a : f64
    }
    %odd = arith.cmpi eq, %c, %lb : i64
    %c2 = scf.if %odd -> (i64) {
      scf.yield %step : i64
    } else {
      scf.yield %lb : i64
    }
    scf.yield %t, %c2 : f64, i64
  }
  func.return %r#0 : f64
}

func.func @requests(%x: f64, %n: i64, %s: f64) -> (f64, f64, f64) {
  %0 = ad.autodiff @power(%x, %n, %s) {activity = [#ad<activity active>, #ad<activity const>], ret_activity = [#ad<activity activenoneed>]} : (f64, i64, f64) -> f64
  %1 = ad.autodiff @grow(%x, %n, %s) {activity = [#ad<activity active>, #ad<activity const>], ret_activity = [#ad<activity activenoneed>]} : (f64, i64, f64) -> f64
  %2 = ad.autodiff @branch(%x, %n, %s) {activity = [#ad<activity active>, #ad<activity const>], ret_activity = [#ad<activity activenoneed>]} : (f64, i64, f64) -> f64
  func.return %0, %1, %2 : f64, f64, f64
}

// CHECK-LABEL: func.func private @revdiff_power_ac_x(%x: f64, %n: i64, %0: f64) -> f64 {
// CHECK-NEXT:    %tape = ad.init : !ad.cache<f64>
// CHECK-NEXT:    %one = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    %lb = arith.constant 0 : i64
// CHECK-NEXT:    %step = arith.constant 1 : i64
// CHECK-NEXT:    %1 = arith.cmpi sgt, %n, %lb : i64
// CHECK-NEXT:    %2 = arith.constant 0 : i64
// CHECK-NEXT:    %cache_size = arith.select %1, %n, %2 : i64
// CHECK-NEXT:    ad.reserve %tape, %cache_size : !ad.cache<f64>
// CHECK-NEXT:    %r = scf.for %i = %lb to %n step %step iter_args(%s = %one) -> (f64) : i64 {
// CHECK-NEXT:      %t = arith.mulf %s, %x : f64
// CHECK-NEXT:      ad.push %tape, %s : !ad.cache<f64>
// CHECK-NEXT:      scf.yield %t : f64
// CHECK-NEXT:    }
// CHECK-NEXT:    %3 = arith.cmpi sgt, %n, %lb : i64
// CHECK-NEXT:    %4 = arith.constant 0 : i64
// CHECK-NEXT:    %5 = arith.select %3, %n, %4 : i64
// CHECK-NEXT:    %6 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %7 = arith.constant 1 : i64
// CHECK-NEXT:    %8, %9 = scf.for %10 = %4 to %5 step %7 iter_args(%11 = %0, %12 = %6) -> (f64, f64) : i64 {
// CHECK-NEXT:      %s_1 = ad.pop %tape : !ad.cache<f64>
// CHECK-NEXT:      %13 = arith.constant 1 : i64
// CHECK-NEXT:      %14 = arith.subi %5, %13 : i64
// CHECK-NEXT:      %15 = arith.subi %14, %10 : i64
// CHECK-NEXT:      %16 = arith.muli %15, %step : i64
// CHECK-NEXT:      %i_1 = arith.addi %lb, %16 : i64
// CHECK-NEXT:      %17 = arith.mulf %x, %11 : f64
// CHECK-NEXT:      %18 = arith.mulf %s_1, %11 : f64
// CHECK-NEXT:      %19 = arith.addf %12, %18 : f64
// CHECK-NEXT:      scf.yield %17, %19 : f64, f64
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %9 : f64
// CHECK-NEXT:  }

// CHECK-LABEL: func.func private @revdiff_grow_ac_x(%x: f64, %limit: i64, %0: f64) -> f64 {
// CHECK-NEXT:    %tape = ad.init : !ad.cache<f64>
// CHECK-NEXT:    %k0 = arith.constant 0 : i64
// CHECK-NEXT:    %k1 = arith.constant 1 : i64
// CHECK-NEXT:    %1 = arith.constant 0 : i64
// CHECK-NEXT:    %r, %r_1, %count = scf.while (%v = %x, %k = %k0, %2 = %1) : (f64, i64, i64) -> (f64, i64, i64) {
// CHECK-NEXT:      %more = arith.cmpi slt, %k, %limit : i64
// CHECK-NEXT:      scf.condition(%more) %v, %k, %2 : f64, i64, i64
// CHECK-NEXT:    } do {
// CHECK-NEXT:    ^bb0(%w: f64, %j: i64, %3: i64):
// CHECK-NEXT:      %w2 = arith.mulf %w, %w : f64
// CHECK-NEXT:      %j1 = arith.addi %j, %k1 : i64
// CHECK-NEXT:      %4 = arith.constant 1 : i64
// CHECK-NEXT:      %5 = arith.addi %3, %4 : i64
// CHECK-NEXT:      %6 = arith.constant 1 : i64
// CHECK-NEXT:      ad.reserve %tape, %6 : !ad.cache<f64>
// CHECK-NEXT:      ad.push %tape, %w : !ad.cache<f64>
// CHECK-NEXT:      scf.yield %w2, %j1, %5 : f64, i64, i64
// CHECK-NEXT:    }
// CHECK-NEXT:    %7 = arith.constant 1 : i64
// CHECK-NEXT:    %8 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %9 = arith.constant 0 : i64
// CHECK-NEXT:    %10 = arith.addi %count, %7 : i64
// CHECK-NEXT:    %11, %12 = scf.for %13 = %9 to %10 step %7 iter_args(%14 = %0, %15 = %8) -> (f64, f64) : i64 {
// CHECK-NEXT:      %16 = arith.cmpi slt, %13, %count : i64
// CHECK-NEXT:      %17 = scf.if %16 -> (f64) {
// CHECK-NEXT:        %w_1 = ad.pop %tape : !ad.cache<f64>
// CHECK-NEXT:        %18 = arith.mulf %w_1, %14 : f64
// CHECK-NEXT:        %19 = arith.mulf %w_1, %14 : f64
// CHECK-NEXT:        %20 = arith.addf %18, %19 : f64
// CHECK-NEXT:        scf.yield %20 : f64
// CHECK-NEXT:      } else {
// CHECK-NEXT:        %21 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:        scf.yield %21 : f64
// CHECK-NEXT:      }
// CHECK-NEXT:      scf.yield %17, %14 : f64, f64
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %12 : f64
// CHECK-NEXT:  }

// CHECK-LABEL: func.func private @revdiff_branch_ac_x(%x: f64, %n: i64, %0: f64) -> f64 {
// CHECK-NEXT:    %tape = ad.init : !ad.cache<f64>
// CHECK-NEXT:    %one = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    %lb = arith.constant 0 : i64
// CHECK-NEXT:    %step = arith.constant 1 : i64
// CHECK-NEXT:    %1 = arith.cmpi sgt, %n, %lb : i64
// CHECK-NEXT:    %2 = arith.constant 0 : i64
// CHECK-NEXT:    %cache_size = arith.select %1, %n, %2 : i64
// CHECK-NEXT:    ad.reserve %tape, %cache_size : !ad.cache<f64>
// CHECK-NEXT:    %r, %r_1 = scf.for %i = %lb to %n step %step iter_args(%s = %x, %c = %lb) -> (f64, i64) : i64 {
// CHECK-NEXT:      %big = arith.cmpf ogt, %s, %one : f64
// CHECK-NEXT:      %t = scf.if %big -> (f64) {
// CHECK-NEXT:        %m = arith.mulf %s, %x : f64
// CHECK-NEXT:        scf.yield %m : f64
// CHECK-NEXT:      } else {
// CHECK-NEXT:        %a = arith.addf %s, %x : f64
// CHECK-NEXT:        scf.yield %a : f64
// CHECK-NEXT:      }
// CHECK-NEXT:      %odd = arith.cmpi eq, %c, %lb : i64
// CHECK-NEXT:      %c2 = scf.if %odd -> (i64) {
// CHECK-NEXT:        scf.yield %step : i64
// CHECK-NEXT:      } else {
// CHECK-NEXT:        scf.yield %lb : i64
// CHECK-NEXT:      }
// CHECK-NEXT:      ad.push %tape, %s : !ad.cache<f64>
// CHECK-NEXT:      scf.yield %t, %c2 : f64, i64
// CHECK-NEXT:    }
// CHECK-NEXT:    %3 = arith.cmpi sgt, %n, %lb : i64
// CHECK-NEXT:    %4 = arith.constant 0 : i64
// CHECK-NEXT:    %5 = arith.select %3, %n, %4 : i64
// CHECK-NEXT:    %6 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %7 = arith.constant 1 : i64
// CHECK-NEXT:    %8, %9 = scf.for %10 = %4 to %5 step %7 iter_args(%11 = %0, %12 = %6) -> (f64, f64) : i64 {
// CHECK-NEXT:      %s_1 = ad.pop %tape : !ad.cache<f64>
// CHECK-NEXT:      %13 = arith.constant 1 : i64
// CHECK-NEXT:      %14 = arith.subi %5, %13 : i64
// CHECK-NEXT:      %15 = arith.subi %14, %10 : i64
// CHECK-NEXT:      %16 = arith.muli %15, %step : i64
// CHECK-NEXT:      %i_1 = arith.addi %lb, %16 : i64
// CHECK-NEXT:      %big_1 = arith.cmpf ogt, %s_1, %one : f64
// CHECK-NEXT:      %17 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:      %18, %19 = scf.if %big_1 -> (f64, f64) {
// CHECK-NEXT:        %20 = arith.mulf %x, %11 : f64
// CHECK-NEXT:        %21 = arith.addf %17, %20 : f64
// CHECK-NEXT:        %22 = arith.mulf %s_1, %11 : f64
// CHECK-NEXT:        %23 = arith.addf %12, %22 : f64
// CHECK-NEXT:        scf.yield %21, %23 : f64, f64
// CHECK-NEXT:      } else {
// CHECK-NEXT:        %24 = arith.addf %17, %11 : f64
// CHECK-NEXT:        %25 = arith.addf %12, %11 : f64
// CHECK-NEXT:        scf.yield %24, %25 : f64, f64
// CHECK-NEXT:      }
// CHECK-NEXT:      scf.yield %18, %19 : f64, f64
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %9 : f64
// CHECK-NEXT:  }
