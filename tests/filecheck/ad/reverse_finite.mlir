// RUN: cofactor-opt %s -p ad-reverse | filecheck %s

// Which reverse products are checked (_finite): a partial that is finite
// wherever its op's operands are needs no check when those operands are
// computed from the inputs by finite ops (inputs are finite), and a product's
// partial (the other factor) none when that factor is; one that may meet an
// inf (log, exp, a value stored after them) keeps the check, so a zero
// adjoint still gives zero there.

// y = x * z + sin(x) * tanh(z): partials from the inputs by finite ops
func.func @products(%x: f64, %z: f64) -> f64 {
  %p = arith.mulf %x, %z : f64
  %s = math.sin %x : f64
  %t = math.tanh %z : f64
  %q = arith.mulf %s, %t : f64
  %y = arith.addf %p, %q : f64
  func.return %y : f64
}

// y = z / (1 + exp(-x)): the denominator is at least 1
func.func @sigmoid(%x: f64, %z: f64) -> f64 {
  %one = arith.constant 1.0 : f64
  %n = arith.negf %x : f64
  %e = math.exp %n : f64
  %d = arith.addf %one, %e : f64
  %y = arith.divf %z, %d : f64
  func.return %y : f64
}

// y = max(log(x) * z, -1): log(0) = -inf meets the zero adjoint max gives it
func.func @discarded(%x: f64, %z: f64) -> f64 {
  %c = arith.constant -1.0 : f64
  %l = math.log %x : f64
  %p = arith.mulf %l, %z : f64
  %y = arith.maximumf %p, %c : f64
  func.return %y : f64
}

// a[0] = log(x); y = a[0] * z: a load of a value that may be inf (z's
// partial; a[0]'s partial z is finite)
func.func @stored(%x: f64, %z: f64, %a: memref<1xf64>) -> f64 {
  %i = arith.constant 0 : index
  %l = math.log %x : f64
  memref.store %l, %a[%i] : memref<1xf64>
  %v = memref.load %a[%i] : memref<1xf64>
  %y = arith.mulf %v, %z : f64
  func.return %y : f64
}

func.func @requests(%x: f64, %z: f64, %s: f64, %a: memref<1xf64>) -> (f64, f64, f64, f64, f64, f64, f64, f64) {
  %g:2 = ad.autodiff @products(%x, %z, %s) {activity = [#ad<activity active>, #ad<activity active>], ret_activity = [#ad<activity activenoneed>]} : (f64, f64, f64) -> (f64, f64)
  %h:2 = ad.autodiff @sigmoid(%x, %z, %s) {activity = [#ad<activity active>, #ad<activity active>], ret_activity = [#ad<activity activenoneed>]} : (f64, f64, f64) -> (f64, f64)
  %k:2 = ad.autodiff @discarded(%x, %z, %s) {activity = [#ad<activity active>, #ad<activity active>], ret_activity = [#ad<activity activenoneed>]} : (f64, f64, f64) -> (f64, f64)
  %m:2 = ad.autodiff @stored(%x, %z, %a, %s) {activity = [#ad<activity active>, #ad<activity active>, #ad<activity const>], ret_activity = [#ad<activity activenoneed>]} : (f64, f64, memref<1xf64>, f64) -> (f64, f64)
  func.return %g#0, %g#1, %h#0, %h#1, %k#0, %k#1, %m#0, %m#1 : f64, f64, f64, f64, f64, f64, f64, f64
}

// No select: every partial is finite.
// CHECK-LABEL: func.func private @revdiff_products_aa_x(%x: f64, %z: f64, %0: f64) -> (f64, f64) {
// CHECK-NEXT:    %p = arith.mulf %x, %z : f64
// CHECK-NEXT:    %s = math.sin %x : f64
// CHECK-NEXT:    %t = math.tanh %z : f64
// CHECK-NEXT:    %q = arith.mulf %s, %t : f64
// CHECK-NEXT:    %y = arith.addf %p, %q : f64
// CHECK-NEXT:    %1 = arith.mulf %t, %0 : f64
// CHECK-NEXT:    %2 = arith.mulf %s, %0 : f64
// CHECK-NEXT:    %3 = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    %4 = arith.mulf %t, %t : f64
// CHECK-NEXT:    %5 = arith.subf %3, %4 : f64
// CHECK-NEXT:    %6 = arith.mulf %5, %2 : f64
// CHECK-NEXT:    %7 = math.cos %x : f64
// CHECK-NEXT:    %8 = arith.mulf %7, %1 : f64
// CHECK-NEXT:    %9 = arith.mulf %z, %0 : f64
// CHECK-NEXT:    %10 = arith.addf %8, %9 : f64
// CHECK-NEXT:    %11 = arith.mulf %x, %0 : f64
// CHECK-NEXT:    %12 = arith.addf %6, %11 : f64
// CHECK-NEXT:    func.return %10, %12 : f64, f64
// CHECK-NEXT:  }

// The denominator 1 + exp(-x) is at least 1: 1/d and -y/d need no check;
// exp's partial (its result) may be inf.
// CHECK-LABEL: func.func private @revdiff_sigmoid_aa_x(%x: f64, %z: f64, %0: f64) -> (f64, f64) {
// CHECK-NEXT:    %one = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    %n = arith.negf %x : f64
// CHECK-NEXT:    %e = math.exp %n : f64
// CHECK-NEXT:    %d = arith.addf %one, %e : f64
// CHECK-NEXT:    %y = arith.divf %z, %d : f64
// CHECK-NEXT:    %1 = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    %2 = arith.divf %1, %d : f64
// CHECK-NEXT:    %3 = arith.divf %y, %d : f64
// CHECK-NEXT:    %4 = arith.negf %3 : f64
// CHECK-NEXT:    %5 = arith.mulf %2, %0 : f64
// CHECK-NEXT:    %6 = arith.mulf %4, %0 : f64
// CHECK-NEXT:    %7 = arith.mulf %e, %6 : f64
// CHECK-NEXT:    %8 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %9 = arith.cmpf oeq, %6, %8 : f64
// CHECK-NEXT:    %10 = arith.select %9, %8, %7 : f64
// CHECK-NEXT:    %11 = arith.negf %10 : f64
// CHECK-NEXT:    func.return %11, %5 : f64, f64
// CHECK-NEXT:  }

// CHECK-LABEL: func.func private @revdiff_discarded_aa_x(%x: f64, %z: f64, %0: f64) -> (f64, f64) {
// CHECK-NEXT:    %c = arith.constant -1.000000e+00 : f64
// CHECK-NEXT:    %l = math.log %x : f64
// CHECK-NEXT:    %p = arith.mulf %l, %z : f64
// CHECK-NEXT:    %y = arith.maximumf %p, %c : f64
// CHECK-NEXT:    %1 = arith.cmpf olt, %p, %c : f64
// CHECK-NEXT:    %2 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %3 = arith.select %1, %2, %0 : f64
// CHECK-NEXT:    %4 = arith.mulf %z, %3 : f64
// CHECK-NEXT:    %5 = arith.mulf %l, %3 : f64
// CHECK-NEXT:    %6 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %7 = arith.cmpf oeq, %3, %6 : f64
// CHECK-NEXT:    %8 = arith.select %7, %6, %5 : f64
// CHECK-NEXT:    %9 = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    %10 = arith.divf %9, %x : f64
// CHECK-NEXT:    %11 = arith.mulf %10, %4 : f64
// CHECK-NEXT:    %12 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %13 = arith.cmpf oeq, %4, %12 : f64
// CHECK-NEXT:    %14 = arith.select %13, %12, %11 : f64
// CHECK-NEXT:    func.return %14, %8 : f64, f64
// CHECK-NEXT:  }

// CHECK-LABEL: func.func private @revdiff_stored_aac_x
// CHECK:         %l = math.log %x : f64
// CHECK:         %y = arith.mulf %v, %z : f64
// CHECK-NEXT:    %10 = arith.mulf %z, %0 : f64
// CHECK-NEXT:    %11 = arith.mulf %l, %0 : f64
// CHECK-NEXT:    %12 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %13 = arith.cmpf oeq, %0, %12 : f64
// CHECK-NEXT:    %14 = arith.select %13, %12, %11 : f64
