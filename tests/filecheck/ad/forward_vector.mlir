// RUN: cofactor-opt %s -p ad-forward | filecheck %s

// Vector mode (width 2): two tangents per active scalar, two shadows per
// array; partials are computed once and shared by both tangents.

func.func @f(%a: memref<?xf64>, %x: f64, %n: i64) -> f64 {
  %c0 = arith.constant 0 : index
  %lb = arith.constant 0 : i64
  %one = arith.constant 1 : i64
  %v = memref.load %a[%c0] : memref<?xf64>
  %r = scf.for %i = %lb to %n step %one iter_args(%s = %v) -> (f64) : i64 {
    %t = math.sin %s : f64
    %u = arith.mulf %t, %x : f64
    scf.yield %u : f64
  }
  memref.store %r, %a[%c0] : memref<?xf64>
  func.return %r : f64
}

func.func @request(%a: memref<?xf64>, %da1: memref<?xf64>, %da2: memref<?xf64>, %x: f64, %dx1: f64, %dx2: f64, %n: i64) -> (f64, f64, f64) {
  %r:3 = ad.fwddiff @f(%a, %da1, %da2, %x, %dx1, %dx2, %n) {activity = [#ad<activity dup>, #ad<activity dup>, #ad<activity const>], ret_activity = [#ad<activity dup>], width = 2 : i64} : (memref<?xf64>, memref<?xf64>, memref<?xf64>, f64, f64, f64, i64) -> (f64, f64, f64)
  func.return %r#0, %r#1, %r#2 : f64, f64, f64
}

// CHECK-LABEL: func.func private @fwddiff_f_ddc_d_w2(%a: memref<?xf64>, %da: memref<?xf64>, %da_1: memref<?xf64>, %x: f64, %dx: f64, %dx_1: f64, %n: i64) -> (f64, f64, f64) {
// CHECK-NEXT:    %c0 = arith.constant 0 : index
// CHECK-NEXT:    %lb = arith.constant 0 : i64
// CHECK-NEXT:    %one = arith.constant 1 : i64
// CHECK-NEXT:    %v = memref.load %a[%c0] : memref<?xf64>
// CHECK-NEXT:    %dv = memref.load %da[%c0] : memref<?xf64>
// CHECK-NEXT:    %dv_1 = memref.load %da_1[%c0] : memref<?xf64>
// CHECK-NEXT:    %r, %dr, %dr_1 = scf.for %i = %lb to %n step %one iter_args(%s = %v, %ds = %dv, %ds_1 = %dv_1) -> (f64, f64, f64) : i64 {
// CHECK-NEXT:      %t = math.sin %s : f64
// CHECK-NEXT:      %0 = math.cos %s : f64
// CHECK-NEXT:      %dt = arith.mulf %0, %ds : f64
// CHECK-NEXT:      %dt_1 = arith.mulf %0, %ds_1 : f64
// CHECK-NEXT:      %u = arith.mulf %t, %x : f64
// CHECK-NEXT:      %1 = arith.mulf %x, %dt : f64
// CHECK-NEXT:      %2 = arith.mulf %t, %dx : f64
// CHECK-NEXT:      %du = arith.addf %1, %2 : f64
// CHECK-NEXT:      %3 = arith.mulf %x, %dt_1 : f64
// CHECK-NEXT:      %4 = arith.mulf %t, %dx_1 : f64
// CHECK-NEXT:      %du_1 = arith.addf %3, %4 : f64
// CHECK-NEXT:      scf.yield %u, %du, %du_1 : f64, f64, f64
// CHECK-NEXT:    }
// CHECK-NEXT:    memref.store %r, %a[%c0] : memref<?xf64>
// CHECK-NEXT:    memref.store %dr, %da[%c0] : memref<?xf64>
// CHECK-NEXT:    memref.store %dr_1, %da_1[%c0] : memref<?xf64>
// CHECK-NEXT:    func.return %r, %dr, %dr_1 : f64, f64, f64
// CHECK-NEXT:  }
// CHECK-LABEL: func.func @request(
// CHECK-NEXT:    %r, %r_1, %r_2 = func.call @fwddiff_f_ddc_d_w2(%a, %da1, %da2, %x, %dx1, %dx2, %n) : (memref<?xf64>, memref<?xf64>, memref<?xf64>, f64, f64, f64, i64) -> (f64, f64, f64)
