// RUN: cofactor-opt %s -p ad-reverse | filecheck %s

// `a[i] = a[i] - x * x` reads and writes one element, nothing in between:
// its reverse leaves da[i] in place and takes -da[i] as the adjoint of
// x * x, with no store to da. When another store to the array sits between
// the load and the store, the element's adjoint is moved out (da[i] = 0) and
// added back through the load, as for any store.
func.func @f(%a: memref<?xf64>, %x: f64, %n: index) -> f64 {
  %lb = arith.constant 0 : index
  %one = arith.constant 1 : index
  scf.for %i = %lb to %n step %one {
    %old = memref.load %a[%i] : memref<?xf64>
    %sq = arith.mulf %x, %x : f64
    %new = arith.subf %old, %sq : f64
    memref.store %new, %a[%i] : memref<?xf64>
  }
  %r = memref.load %a[%lb] : memref<?xf64>
  func.return %r : f64
}

func.func @g(%a: memref<?xf64>, %x: f64, %n: index) -> f64 {
  %lb = arith.constant 0 : index
  %one = arith.constant 1 : index
  scf.for %i = %lb to %n step %one {
    %old = memref.load %a[%i] : memref<?xf64>
    memref.store %x, %a[%lb] : memref<?xf64>
    %new = arith.addf %old, %x : f64
    memref.store %new, %a[%i] : memref<?xf64>
  }
  %r = memref.load %a[%lb] : memref<?xf64>
  func.return %r : f64
}

func.func @request(%a: memref<?xf64>, %da: memref<?xf64>, %x: f64, %n: index, %s: f64) -> f64 {
  %0 = ad.autodiff @f(%a, %da, %x, %n, %s) {activity = [#ad<activity dup>, #ad<activity active>, #ad<activity const>], ret_activity = [#ad<activity activenoneed>]} : (memref<?xf64>, memref<?xf64>, f64, index, f64) -> f64
  %1 = ad.autodiff @g(%a, %da, %x, %n, %s) {activity = [#ad<activity dup>, #ad<activity active>, #ad<activity const>], ret_activity = [#ad<activity activenoneed>]} : (memref<?xf64>, memref<?xf64>, f64, index, f64) -> f64
  %2 = arith.addf %0, %1 : f64
  func.return %2 : f64
}

// CHECK-LABEL: func.func private @revdiff_f_dac_x(
// CHECK:         scf.for %{{.*}} iter_args(%[[XBAR:.*]] = %{{.*}}) -> (f64) {
// CHECK:           %i_1 = arith.addi %lb, %{{.*}} : index
// CHECK-NEXT:      %[[BAR:.*]] = memref.load %da[%i_1] : memref<?xf64>
// CHECK-NEXT:      %[[NEG:.*]] = arith.negf %[[BAR]] : f64
// CHECK-NEXT:      %{{.*}} = arith.mulf %x, %[[NEG]] : f64
// CHECK-NOT:       memref.store
// CHECK:           scf.yield
// CHECK-NEXT:    }

// CHECK-LABEL: func.func private @revdiff_g_dac_x(
// CHECK:         scf.for
// CHECK:           %[[BAR:.*]] = memref.load %da[%i_1] : memref<?xf64>
// CHECK-NEXT:      %[[ZERO:.*]] = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:      memref.store %[[ZERO]], %da[%i_1] : memref<?xf64>
// CHECK:           memref.store %{{.*}}, %da[%i_1] : memref<?xf64>
// CHECK:           scf.yield
