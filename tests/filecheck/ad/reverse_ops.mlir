// RUN: cofactor-opt %s | filecheck %s
// RUN: cofactor-opt %s | cofactor-opt | filecheck %s
// RUN: cofactor-opt %s --print-op-generic | cofactor-opt | filecheck %s
// RUN: cofactor-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

// The reverse-mode request and the cache ops round-trip in custom and generic
// form. A cache op's types all follow from the cache type.

func.func private @f(f64, memref<?xf64>, i64) -> (f64, memref<?xf64>)

func.func @requests(%x: f64, %a: memref<?xf64>, %da: memref<?xf64>, %n: i64, %s: f64, %sa: memref<?xf64>) -> (f64, f64) {
  %r:2 = ad.autodiff @f(%x, %a, %da, %n, %s, %sa) {activity = [#ad<activity active>, #ad<activity dup>, #ad<activity const>], ret_activity = [#ad<activity active>, #ad<activity dupnoneed>]} : (f64, memref<?xf64>, memref<?xf64>, i64, f64, memref<?xf64>) -> (f64, f64)
  %g:2 = ad.autodiff @f(%x, %a, %n, %s) {activity = [#ad<activity active>, #ad<activity const>, #ad<activity const>], ret_activity = [#ad<activity activenoneed>, #ad<activity const>]} : (f64, memref<?xf64>, i64, f64) -> (f64, memref<?xf64>)
  func.return %r#0, %r#1 : f64, f64
}

func.func @caches(%x: f64, %a: memref<?xf64>, %n: i64) -> (f64, memref<?xf64>) {
  %c = ad.init : !ad.cache<f64>
  %m = ad.init : !ad.cache<memref<?xf64>>
  ad.reserve %c, %n : !ad.cache<f64>
  ad.push %c, %x : !ad.cache<f64>
  ad.push %m, %a {note} : !ad.cache<memref<?xf64>>
  %y = ad.pop %c : !ad.cache<f64>
  %b = ad.pop %m : !ad.cache<memref<?xf64>>
  func.return %y, %b : f64, memref<?xf64>
}

// CHECK:      %r, %r_1 = ad.autodiff @f(%x, %a, %da, %n, %s, %sa) {activity = [#ad<activity active>, #ad<activity dup>, #ad<activity const>], ret_activity = [#ad<activity active>, #ad<activity dupnoneed>]} : (f64, memref<?xf64>, memref<?xf64>, i64, f64, memref<?xf64>) -> (f64, f64)
// CHECK-NEXT: %g, %g_1 = ad.autodiff @f(%x, %a, %n, %s) {activity = [#ad<activity active>, #ad<activity const>, #ad<activity const>], ret_activity = [#ad<activity activenoneed>, #ad<activity const>]} : (f64, memref<?xf64>, i64, f64) -> (f64, memref<?xf64>)
// CHECK:      %c = ad.init : !ad.cache<f64>
// CHECK-NEXT: %m = ad.init : !ad.cache<memref<?xf64>>
// CHECK-NEXT: ad.reserve %c, %n : !ad.cache<f64>
// CHECK-NEXT: ad.push %c, %x : !ad.cache<f64>
// CHECK-NEXT: ad.push %m, %a {note} : !ad.cache<memref<?xf64>>
// CHECK-NEXT: %y = ad.pop %c : !ad.cache<f64>
// CHECK-NEXT: %b = ad.pop %m : !ad.cache<memref<?xf64>>

// GENERIC:      "ad.autodiff"(%x, %a, %da, %n, %s, %sa) <{fn = @f, activity = [#ad<activity active>, #ad<activity dup>, #ad<activity const>], ret_activity = [#ad<activity active>, #ad<activity dupnoneed>]}> : (f64, memref<?xf64>, memref<?xf64>, i64, f64, memref<?xf64>) -> (f64, f64)
// GENERIC:      %c = "ad.init"() : () -> !ad.cache<f64>
// GENERIC:      "ad.reserve"(%c, %n) : (!ad.cache<f64>, i64) -> ()
// GENERIC-NEXT: "ad.push"(%c, %x) : (!ad.cache<f64>, f64) -> ()
// GENERIC:      %y = "ad.pop"(%c) : (!ad.cache<f64>) -> f64
