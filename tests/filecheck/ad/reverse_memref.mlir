// RUN: cofactor-opt %s -p ad-reverse | filecheck %s

// In place in a time loop: u[i] = u[i] * u[i] * dt. The reverse needs the old
// u[i], which the store overwrites: the load is pushed (saved before the
// overwrite) and popped, once per iteration. The store moves the shadow
// element into the stored value's adjoint and zeroes it; the load adds its
// adjoint back into the shadow.
func.func @update(%u: memref<?xf64>, %steps: i64, %dt: f64) -> f64 {
  %c0 = arith.constant 0 : index
  %lb = arith.constant 0 : i64
  %one = arith.constant 1 : i64
  %n = memref.dim %u, %c0 : memref<?xf64>
  %n64 = arith.index_cast %n : index to i64
  scf.for %t = %lb to %steps step %one : i64 {
    scf.for %i = %lb to %n64 step %one : i64 {
      %k = arith.index_cast %i : i64 to index
      %v = memref.load %u[%k] : memref<?xf64>
      %sq = arith.mulf %v, %v : f64
      %w = arith.mulf %sq, %dt : f64
      memref.store %w, %u[%k] : memref<?xf64>
    }
  }
  %r = memref.load %u[%c0] : memref<?xf64>
  func.return %r : f64
}

// s += a[i] * b[j]: nothing writes a or b, so the reverse loads them again
// (no cache). a[i] does not change in the j loop: its adjoint is carried in
// a register through the reverse j loop and added to the shadow once.
func.func @outer_sum(%a: memref<?xf64>, %b: memref<?xf64>, %n: i64) -> f64 {
  %zero = arith.constant 0.0 : f64
  %lb = arith.constant 0 : i64
  %one = arith.constant 1 : i64
  %r = scf.for %i = %lb to %n step %one iter_args(%s = %zero) -> (f64) : i64 {
    %ki = arith.index_cast %i : i64 to index
    %r2 = scf.for %j = %lb to %n step %one iter_args(%s2 = %s) -> (f64) : i64 {
      %kj = arith.index_cast %j : i64 to index
      %ai = memref.load %a[%ki] : memref<?xf64>
      %bj = memref.load %b[%kj] : memref<?xf64>
      %p = arith.mulf %ai, %bj : f64
      %s3 = arith.addf %s2, %p : f64
      scf.yield %s3 : f64
    }
    scf.yield %r2 : f64
  }
  func.return %r : f64
}

func.func @requests(%u: memref<?xf64>, %du: memref<?xf64>, %n: i64, %dt: f64, %s: f64, %b: memref<?xf64>, %db: memref<?xf64>) -> (f64, f64) {
  %0 = ad.autodiff @update(%u, %du, %n, %dt, %s) {activity = [#ad<activity dup>, #ad<activity const>, #ad<activity active>], ret_activity = [#ad<activity activenoneed>]} : (memref<?xf64>, memref<?xf64>, i64, f64, f64) -> f64
  ad.autodiff @outer_sum(%u, %du, %b, %db, %n, %s) {activity = [#ad<activity dup>, #ad<activity dup>, #ad<activity const>], ret_activity = [#ad<activity activenoneed>]} : (memref<?xf64>, memref<?xf64>, memref<?xf64>, memref<?xf64>, i64, f64) -> ()
  func.return %0, %0 : f64, f64
}

// CHECK-LABEL: func.func private @revdiff_update_dca_x(%u: memref<?xf64>, %du: memref<?xf64>, %steps: i64, %dt: f64, %0: f64) -> f64 {
// CHECK-NEXT:    %tape = ad.init : !ad.cache<f64>
// CHECK-NEXT:    %c0 = arith.constant 0 : index
// CHECK-NEXT:    %lb = arith.constant 0 : i64
// CHECK-NEXT:    %one = arith.constant 1 : i64
// CHECK-NEXT:    %n = memref.dim %u, %c0 : memref<?xf64>
// CHECK-NEXT:    %n64 = arith.index_cast %n : index to i64
// CHECK-NEXT:    %1 = arith.cmpi sgt, %steps, %lb : i64
// CHECK-NEXT:    %2 = arith.constant 0 : i64
// CHECK-NEXT:    %3 = arith.select %1, %steps, %2 : i64
// CHECK-NEXT:    %4 = arith.cmpi sgt, %n64, %lb : i64
// CHECK-NEXT:    %5 = arith.select %4, %n64, %2 : i64
// CHECK-NEXT:    %cache_size = arith.muli %3, %5 : i64
// CHECK-NEXT:    ad.reserve %tape, %cache_size : !ad.cache<f64>
// CHECK-NEXT:    scf.for %t = %lb to %steps step %one : i64 {
// CHECK-NEXT:      scf.for %i = %lb to %n64 step %one : i64 {
// CHECK-NEXT:        %k = arith.index_cast %i : i64 to index
// CHECK-NEXT:        %v = memref.load %u[%k] : memref<?xf64>
// CHECK-NEXT:        %sq = arith.mulf %v, %v : f64
// CHECK-NEXT:        %w = arith.mulf %sq, %dt : f64
// CHECK-NEXT:        memref.store %w, %u[%k] : memref<?xf64>
// CHECK-NEXT:        ad.push %tape, %v : !ad.cache<f64>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    %r = memref.load %u[%c0] : memref<?xf64>
// CHECK-NEXT:    %6 = memref.load %du[%c0] : memref<?xf64>
// CHECK-NEXT:    %7 = arith.addf %6, %0 : f64
// CHECK-NEXT:    memref.store %7, %du[%c0] : memref<?xf64>
// CHECK-NEXT:    %8 = arith.cmpi sgt, %steps, %lb : i64
// CHECK-NEXT:    %9 = arith.constant 0 : i64
// CHECK-NEXT:    %10 = arith.select %8, %steps, %9 : i64
// CHECK-NEXT:    %11 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %12 = arith.constant 1 : i64
// CHECK-NEXT:    %13 = scf.for %14 = %9 to %10 step %12 iter_args(%15 = %11) -> (f64) : i64 {
// CHECK-NEXT:      %16 = arith.constant 1 : i64
// CHECK-NEXT:      %17 = arith.subi %10, %16 : i64
// CHECK-NEXT:      %18 = arith.subi %17, %14 : i64
// CHECK-NEXT:      %19 = arith.muli %18, %one : i64
// CHECK-NEXT:      %t_1 = arith.addi %lb, %19 : i64
// CHECK-NEXT:      %20 = arith.cmpi sgt, %n64, %lb : i64
// CHECK-NEXT:      %21 = arith.constant 0 : i64
// CHECK-NEXT:      %22 = arith.select %20, %n64, %21 : i64
// CHECK-NEXT:      %23 = arith.constant 1 : i64
// CHECK-NEXT:      %24 = scf.for %25 = %21 to %22 step %23 iter_args(%26 = %15) -> (f64) : i64 {
// CHECK-NEXT:        %v_1 = ad.pop %tape : !ad.cache<f64>
// CHECK-NEXT:        %27 = arith.constant 1 : i64
// CHECK-NEXT:        %28 = arith.subi %22, %27 : i64
// CHECK-NEXT:        %29 = arith.subi %28, %25 : i64
// CHECK-NEXT:        %30 = arith.muli %29, %one : i64
// CHECK-NEXT:        %i_1 = arith.addi %lb, %30 : i64
// CHECK-NEXT:        %k_1 = arith.index_cast %i_1 : i64 to index
// CHECK-NEXT:        %sq_1 = arith.mulf %v_1, %v_1 : f64
// CHECK-NEXT:        %31 = memref.load %du[%k_1] : memref<?xf64>
// CHECK-NEXT:        %32 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:        memref.store %32, %du[%k_1] : memref<?xf64>
// CHECK-NEXT:        %33 = arith.mulf %dt, %31 : f64
// CHECK-NEXT:        %34 = arith.mulf %sq_1, %31 : f64
// CHECK-NEXT:        %35 = arith.addf %26, %34 : f64
// CHECK-NEXT:        %36 = arith.mulf %v_1, %33 : f64
// CHECK-NEXT:        %37 = arith.mulf %v_1, %33 : f64
// CHECK-NEXT:        %38 = arith.addf %36, %37 : f64
// CHECK-NEXT:        %39 = memref.load %du[%k_1] : memref<?xf64>
// CHECK-NEXT:        %40 = arith.addf %39, %38 : f64
// CHECK-NEXT:        memref.store %40, %du[%k_1] : memref<?xf64>
// CHECK-NEXT:        scf.yield %35 : f64
// CHECK-NEXT:      }
// CHECK-NEXT:      scf.yield %24 : f64
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %13 : f64
// CHECK-NEXT:  }

// CHECK-LABEL: func.func private @revdiff_outer_sum_ddc_x(%a: memref<?xf64>, %da: memref<?xf64>, %b: memref<?xf64>, %db: memref<?xf64>, %n: i64, %0: f64) {
// CHECK-NEXT:    %zero = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %lb = arith.constant 0 : i64
// CHECK-NEXT:    %one = arith.constant 1 : i64
// CHECK-NEXT:    %r = scf.for %i = %lb to %n step %one iter_args(%s = %zero) -> (f64) : i64 {
// CHECK-NEXT:      %ki = arith.index_cast %i : i64 to index
// CHECK-NEXT:      %r2 = scf.for %j = %lb to %n step %one iter_args(%s2 = %s) -> (f64) : i64 {
// CHECK-NEXT:        %kj = arith.index_cast %j : i64 to index
// CHECK-NEXT:        %ai = memref.load %a[%ki] : memref<?xf64>
// CHECK-NEXT:        %bj = memref.load %b[%kj] : memref<?xf64>
// CHECK-NEXT:        %p = arith.mulf %ai, %bj : f64
// CHECK-NEXT:        %s3 = arith.addf %s2, %p : f64
// CHECK-NEXT:        scf.yield %s3 : f64
// CHECK-NEXT:      }
// CHECK-NEXT:      scf.yield %r2 : f64
// CHECK-NEXT:    }
// CHECK-NEXT:    %1 = arith.cmpi sgt, %n, %lb : i64
// CHECK-NEXT:    %2 = arith.constant 0 : i64
// CHECK-NEXT:    %3 = arith.select %1, %n, %2 : i64
// CHECK-NEXT:    %4 = arith.constant 1 : i64
// CHECK-NEXT:    %5 = scf.for %6 = %2 to %3 step %4 iter_args(%7 = %0) -> (f64) : i64 {
// CHECK-NEXT:      %8 = arith.constant 1 : i64
// CHECK-NEXT:      %9 = arith.subi %3, %8 : i64
// CHECK-NEXT:      %10 = arith.subi %9, %6 : i64
// CHECK-NEXT:      %11 = arith.muli %10, %one : i64
// CHECK-NEXT:      %i_1 = arith.addi %lb, %11 : i64
// CHECK-NEXT:      %ki_1 = arith.index_cast %i_1 : i64 to index
// CHECK-NEXT:      %12 = memref.load %a[%ki_1] : memref<?xf64>
// CHECK-NEXT:      %13 = arith.cmpi sgt, %n, %lb : i64
// CHECK-NEXT:      %14 = arith.constant 0 : i64
// CHECK-NEXT:      %15 = arith.select %13, %n, %14 : i64
// CHECK-NEXT:      %16 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:      %17 = arith.constant 1 : i64
// CHECK-NEXT:      %18, %19 = scf.for %20 = %14 to %15 step %17 iter_args(%21 = %7, %22 = %16) -> (f64, f64) : i64 {
// CHECK-NEXT:        %23 = arith.constant 1 : i64
// CHECK-NEXT:        %24 = arith.subi %15, %23 : i64
// CHECK-NEXT:        %25 = arith.subi %24, %20 : i64
// CHECK-NEXT:        %26 = arith.muli %25, %one : i64
// CHECK-NEXT:        %j_1 = arith.addi %lb, %26 : i64
// CHECK-NEXT:        %kj_1 = arith.index_cast %j_1 : i64 to index
// CHECK-NEXT:        %bj_1 = memref.load %b[%kj_1] : memref<?xf64>
// CHECK-NEXT:        %27 = arith.mulf %bj_1, %21 : f64
// CHECK-NEXT:        %28 = arith.mulf %12, %21 : f64
// CHECK-NEXT:        %29 = memref.load %db[%kj_1] : memref<?xf64>
// CHECK-NEXT:        %30 = arith.addf %29, %28 : f64
// CHECK-NEXT:        memref.store %30, %db[%kj_1] : memref<?xf64>
// CHECK-NEXT:        %31 = arith.addf %22, %27 : f64
// CHECK-NEXT:        scf.yield %21, %31 : f64, f64
// CHECK-NEXT:      }
// CHECK-NEXT:      %32 = memref.load %da[%ki_1] : memref<?xf64>
// CHECK-NEXT:      %33 = arith.addf %32, %19 : f64
// CHECK-NEXT:      memref.store %33, %da[%ki_1] : memref<?xf64>
// CHECK-NEXT:      scf.yield %18 : f64
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return
// CHECK-NEXT:  }
