// RUN: cofactor-opt %s | filecheck %s
// RUN: cofactor-opt %s | cofactor-opt | filecheck %s
// RUN: cofactor-opt %s --print-op-generic | cofactor-opt | filecheck %s
// RUN: cofactor-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

// The request op round-trips in custom and generic form; width is printed
// only when it is not 1.

func.func private @f(f64, memref<?xf64>, i64) -> (f64, f64)

func.func @requests(%x: f64, %dx: f64, %dx2: f64, %a: memref<?xf64>, %da: memref<?xf64>, %n: i64) {
  %r:2 = ad.fwddiff @f(%x, %dx, %a, %n) {activity = [#ad<activity dup>, #ad<activity const>, #ad<activity const>], ret_activity = [#ad<activity dupnoneed>, #ad<activity const>]} : (f64, f64, memref<?xf64>, i64) -> (f64, f64)
  %s:6 = ad.fwddiff @f(%x, %dx, %dx2, %a, %da, %da, %n) {activity = [#ad<activity dup>, #ad<activity dup>, #ad<activity const>], ret_activity = [#ad<activity dup>, #ad<activity dup>], width = 2 : i64} : (f64, f64, f64, memref<?xf64>, memref<?xf64>, memref<?xf64>, i64) -> (f64, f64, f64, f64, f64, f64)
  func.return
}

// CHECK:      %r, %r_1 = ad.fwddiff @f(%x, %dx, %a, %n) {activity = [#ad<activity dup>, #ad<activity const>, #ad<activity const>], ret_activity = [#ad<activity dupnoneed>, #ad<activity const>]} : (f64, f64, memref<?xf64>, i64) -> (f64, f64)
// CHECK-NEXT: %s, %s_1, %s_2, %s_3, %s_4, %s_5 = ad.fwddiff @f(%x, %dx, %dx2, %a, %da, %da, %n) {activity = [#ad<activity dup>, #ad<activity dup>, #ad<activity const>], ret_activity = [#ad<activity dup>, #ad<activity dup>], width = 2 : i64} : (f64, f64, f64, memref<?xf64>, memref<?xf64>, memref<?xf64>, i64) -> (f64, f64, f64, f64, f64, f64)

// GENERIC:      "ad.fwddiff"(%x, %dx, %a, %n) <{fn = @f, activity = [#ad<activity dup>, #ad<activity const>, #ad<activity const>], ret_activity = [#ad<activity dupnoneed>, #ad<activity const>]}> : (f64, f64, memref<?xf64>, i64) -> (f64, f64)
// GENERIC-NEXT: "ad.fwddiff"(%x, %dx, %dx2, %a, %da, %da, %n) <{fn = @f, activity = [#ad<activity dup>, #ad<activity dup>, #ad<activity const>], ret_activity = [#ad<activity dup>, #ad<activity dup>], width = 2 : i64}>
