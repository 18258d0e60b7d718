// RUN: cofactor-opt %s -p ad-forward | filecheck %s

// Tangent rules: partial derivatives from the tables, combined as
// sum_i d_i * t_i with checked multiplication (a zero tangent gives zero)
// except by a partial that is finite wherever the op's operands are.

func.func @sin(%x: f64) -> f64 {
  %y = math.sin %x : f64
  func.return %y : f64
}

func.func @mul_div(%a: f64, %b: f64) -> f64 {
  %p = arith.mulf %a, %b : f64
  %q = arith.divf %p, %b : f64
  func.return %q : f64
}

func.func @sqrt(%x: f64) -> f64 {
  %y = math.sqrt %x : f64
  func.return %y : f64
}

func.func @linear(%x: f64, %c: f32) -> f64 {
  %two = arith.constant 2.0 : f64
  %t = arith.mulf %two, %x : f64
  %n = arith.negf %t : f64
  %e = arith.extf %c : f32 to f64
  %s = arith.subf %n, %e : f64
  func.return %s : f64
}

func.func @select(%c: i1, %a: f64, %b: f64) -> f64 {
  %s = arith.select %c, %a, %b : f64
  func.return %s : f64
}

func.func @requests(%x: f64, %dx: f64, %a: f64, %da: f64, %b: f64, %db: f64, %c: f32, %dc: f32, %i: i1) -> (f64, f64, f64, f64, f64) {
  %0 = ad.fwddiff @sin(%x, %dx) {activity = [#ad<activity dup>], ret_activity = [#ad<activity dupnoneed>]} : (f64, f64) -> f64
  %1 = ad.fwddiff @mul_div(%a, %da, %b, %db) {activity = [#ad<activity dup>, #ad<activity dup>], ret_activity = [#ad<activity dupnoneed>]} : (f64, f64, f64, f64) -> f64
  %2 = ad.fwddiff @sqrt(%x, %dx) {activity = [#ad<activity dup>], ret_activity = [#ad<activity dupnoneed>]} : (f64, f64) -> f64
  %3 = ad.fwddiff @linear(%x, %dx, %c, %dc) {activity = [#ad<activity dup>, #ad<activity dup>], ret_activity = [#ad<activity dupnoneed>]} : (f64, f64, f32, f32) -> f64
  %4 = ad.fwddiff @select(%i, %a, %b, %db) {activity = [#ad<activity const>, #ad<activity const>, #ad<activity dup>], ret_activity = [#ad<activity dupnoneed>]} : (i1, f64, f64, f64) -> f64
  func.return %0, %1, %2, %3, %4 : f64, f64, f64, f64, f64
}

// math.sin: cos(x), finite for finite x: not checked.
// CHECK-LABEL: func.func private @fwddiff_sin_d_n(%x: f64, %dx: f64) -> f64 {
// CHECK-NEXT:    %y = math.sin %x : f64
// CHECK-NEXT:    %0 = math.cos %x : f64
// CHECK-NEXT:    %dy = arith.mulf %0, %dx : f64
// CHECK-NEXT:    func.return %dy : f64
// CHECK-NEXT:  }

// arith.mulf: [b, a], not checked; arith.divf: [1/b, -q/b] (= -a/b^2), checked.
// CHECK-LABEL: func.func private @fwddiff_mul_div_dd_n(%a: f64, %da: f64, %b: f64, %db: f64) -> f64 {
// CHECK-NEXT:    %p = arith.mulf %a, %b : f64
// CHECK-NEXT:    %0 = arith.mulf %b, %da : f64
// CHECK-NEXT:    %1 = arith.mulf %a, %db : f64
// CHECK-NEXT:    %dp = arith.addf %0, %1 : f64
// CHECK-NEXT:    %q = arith.divf %p, %b : f64
// CHECK-NEXT:    %2 = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    %3 = arith.divf %2, %b : f64
// CHECK-NEXT:    %4 = arith.divf %q, %b : f64
// CHECK-NEXT:    %5 = arith.negf %4 : f64
// CHECK-NEXT:    %6 = arith.mulf %3, %dp : f64
// CHECK-NEXT:    %7 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %8 = arith.cmpf oeq, %dp, %7 : f64
// CHECK-NEXT:    %9 = arith.select %8, %7, %6 : f64
// CHECK-NEXT:    %10 = arith.mulf %5, %db : f64
// CHECK-NEXT:    %11 = arith.cmpf oeq, %db, %7 : f64
// CHECK-NEXT:    %12 = arith.select %11, %7, %10 : f64
// CHECK-NEXT:    %dq = arith.addf %9, %12 : f64
// CHECK-NEXT:    func.return %dq : f64
// CHECK-NEXT:  }

// math.sqrt: 0.5 / sqrt(x), guarded: 0 at x = 0.
// CHECK-LABEL: func.func private @fwddiff_sqrt_d_n(%x: f64, %dx: f64) -> f64 {
// CHECK-NEXT:    %y = math.sqrt %x : f64
// CHECK-NEXT:    %0 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %1 = arith.cmpf oeq, %x, %0 : f64
// CHECK-NEXT:    %2 = arith.constant 5.000000e-01 : f64
// CHECK-NEXT:    %3 = arith.divf %2, %y : f64
// CHECK-NEXT:    %4 = arith.select %1, %0, %3 : f64
// CHECK-NEXT:    %5 = arith.mulf %4, %dx : f64
// CHECK-NEXT:    %6 = arith.cmpf oeq, %dx, %0 : f64
// CHECK-NEXT:    %dy = arith.select %6, %0, %5 : f64
// CHECK-NEXT:    func.return %dy : f64
// CHECK-NEXT:  }

// Linear ops need no multiply; a finite constant partial needs no check;
// extf applies to the tangent too.
// CHECK-LABEL: func.func private @fwddiff_linear_dd_n(%x: f64, %dx: f64, %c: f32, %dc: f32) -> f64 {
// CHECK-NEXT:    %two = arith.constant 2.000000e+00 : f64
// CHECK-NEXT:    %t = arith.mulf %two, %x : f64
// CHECK-NEXT:    %dt = arith.mulf %two, %dx : f64
// CHECK-NEXT:    %n = arith.negf %t : f64
// CHECK-NEXT:    %dn = arith.negf %dt : f64
// CHECK-NEXT:    %e = arith.extf %c : f32 to f64
// CHECK-NEXT:    %de = arith.extf %dc : f32 to f64
// CHECK-NEXT:    %s = arith.subf %n, %e : f64
// CHECK-NEXT:    %0 = arith.negf %de : f64
// CHECK-NEXT:    %ds = arith.addf %dn, %0 : f64
// CHECK-NEXT:    func.return %ds : f64
// CHECK-NEXT:  }

// arith.select passes the tangent of the chosen operand (0 for a const one).
// CHECK-LABEL: func.func private @fwddiff_select_ccd_n(%c: i1, %a: f64, %b: f64, %db: f64) -> f64 {
// CHECK-NEXT:    %s = arith.select %c, %a, %b : f64
// CHECK-NEXT:    %0 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %ds = arith.select %c, %0, %db : f64
// CHECK-NEXT:    func.return %ds : f64
// CHECK-NEXT:  }

// CHECK-LABEL: func.func @requests(
// CHECK-NEXT:    %0 = func.call @fwddiff_sin_d_n(%x, %dx) : (f64, f64) -> f64
// CHECK-NEXT:    %1 = func.call @fwddiff_mul_div_dd_n(%a, %da, %b, %db) : (f64, f64, f64, f64) -> f64
// CHECK-NEXT:    %2 = func.call @fwddiff_sqrt_d_n(%x, %dx) : (f64, f64) -> f64
// CHECK-NEXT:    %3 = func.call @fwddiff_linear_dd_n(%x, %dx, %c, %dc) : (f64, f64, f32, f32) -> f64
// CHECK-NEXT:    %4 = func.call @fwddiff_select_ccd_n(%i, %a, %b, %db) : (i1, f64, f64, f64) -> f64
