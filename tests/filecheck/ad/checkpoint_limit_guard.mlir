// RUN: cofactor-opt %s -p ad-checkpoint | filecheck %s

// `tape_limit` with the guard (`grad`'s default limit): a loop whose trip
// count is known only at run time gets its estimate (trip count times 8
// bytes per scalar one step computes: 3 values, 24 bytes) compared with the
// limit, and over it the call stops with rt error 5 and the loop's initial
// values instead of running a checkpointed copy; the caller then builds the
// version with the copy.
func.func @f(%x: f64, %n: i64) -> f64 {
  %lb = arith.constant 0 : i64
  %one = arith.constant 1 : i64
  %r = scf.for %i = %lb to %n step %one iter_args(%s = %x) -> (f64) : i64 {
    %e = math.sin %s : f64
    %t = arith.mulf %e, %s : f64
    %u = arith.addf %t, %s : f64
    scf.yield %u : f64
  } {ad.tape_limit = 1000 : i64, ad.tape_guard}
  func.return %r : f64
}

// CHECK:      func.func @f(%x: f64, %n: i64) -> f64 {
// CHECK:        %[[TOTAL:.*]] = arith.muli %{{.*}}, %{{.*}} : i64
// CHECK-NEXT:   %[[LIMIT:.*]] = arith.constant 1000 : i64
// CHECK-NEXT:   %[[OVER:.*]] = arith.cmpi sgt, %[[TOTAL]], %[[LIMIT]] : i64
// CHECK-NEXT:   %r = scf.if %[[OVER]] -> (f64) {
// CHECK-NEXT:     rt.raise_if %[[OVER]] {code = 5 : i64, info = 0 : i64}
// CHECK-NEXT:     scf.yield %x : f64
// CHECK-NEXT:   } else {
// CHECK-NEXT:     %{{.*}} = scf.for %i = %lb to %n step %one iter_args(%s = %x) -> (f64) : i64 {
// CHECK:          }
// CHECK-NEXT:     scf.yield
// CHECK-NEXT:   }
// CHECK-NOT:    ad.checkpoint
// CHECK-NOT:    ad.tape_guard
