// RUN: cofactor-opt %s -p ad-checkpoint | filecheck %s
// RUN: cofactor-opt %s -p ad-checkpoint,ad-reverse | filecheck %s --check-prefix=REV

// A loop marked `ad.checkpoint` becomes an outer loop over segments of
// ceil(n / snapshots) steps, each a call (marked too) of the outlined body.
// The reverse pass runs the call plainly in the forward sweep, after pushing
// the array it writes (the snapshot); the reverse sweep pops the snapshot
// back into the array, re-runs the segment taped and reverses it.
func.func @f(%x: f64, %a: memref<4xf64>, %n: i64) -> f64 {
  %lb = arith.constant 0 : i64
  %one = arith.constant 1 : i64
  %i0 = arith.constant 0 : index
  %r = scf.for %t = %lb to %n step %one iter_args(%s = %x) -> (f64) : i64 {
    %v = memref.load %a[%i0] : memref<4xf64>
    %e = math.sin %s : f64
    %w = arith.mulf %v, %e : f64
    memref.store %w, %a[%i0] : memref<4xf64>
    scf.yield %w : f64
  } {ad.checkpoint = {schedule = "periodic", snapshots = 8 : i64}}
  func.return %r : f64
}

// CHECK:      func.func @f(
// CHECK:        arith.constant 8 : i64
// CHECK:        %r = scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[S:.*]] = %x) -> (f64) : i64 {
// CHECK-NEXT:     %[[K0:.*]] = arith.muli %[[K]], %[[P:.*]] : i64
// CHECK-NEXT:     %[[K1:.*]] = arith.addi %[[K0]], %[[P]] : i64
// CHECK-NEXT:     %{{.*}} = arith.minsi %[[K1]], %{{.*}} : i64
// CHECK:          %[[R:.*]] = func.call @f_segment(%[[S]], %[[LO:.*]], %[[HI:.*]], %one, %a) {ad.checkpoint = {schedule = "periodic", snapshots = 8 : i64}}
// CHECK-NEXT:     scf.yield %[[R]] : f64
// CHECK:      func.func private @f_segment(%{{.*}}: f64, %[[LO2:.*]]: i64, %[[HI2:.*]]: i64, %[[ST:.*]]: i64, %[[A:.*]]: memref<4xf64>) -> f64 {
// CHECK:        scf.for %t = %[[LO2]] to %[[HI2]] step %[[ST]] iter_args(%s = %{{.*}}) -> (f64) : i64 {
// CHECK:          memref.store %w, %[[A]][%i0] : memref<4xf64>

// REV:      func.func private @revdiff_f_adc_x(
// REV:        ad.reserve %tape, %cache_size : !ad.cache<f64>
// REV-NEXT:   scf.for
// REV:          scf.for
// REV:            %[[OLD:.*]] = memref.load %a[%{{.*}}] : memref<4xf64>
// REV-NEXT:       ad.push %tape, %[[OLD]] : !ad.cache<f64>
// REV:          func.call @f_segment(%{{.*}}) : (f64, i64, i64, i64, memref<4xf64>) -> f64
// REV:        scf.for
// REV:          %[[S0:.*]] = ad.pop %tape : !ad.cache<f64>
// REV:          scf.for
// REV:            %[[E:.*]] = ad.pop %tape : !ad.cache<f64>
// REV-NEXT:       memref.store %[[E]], %a[%{{.*}}] : memref<4xf64>
// REV:          func.call @augmented_f_segment_acccd_a(%[[S0]], %[[L:.*]], %[[H:.*]], %one, %a, %da, %tape)
// REV-NEXT:     func.call @reverse_f_segment_acccd_a(%[[S0]], %[[L]], %[[H]], %one, %a, %da, %{{.*}}, %tape)

func.func @request(%x: f64, %a: memref<4xf64>, %da: memref<4xf64>, %n: i64, %s: f64) -> f64 {
  %0 = ad.autodiff @f(%x, %a, %da, %n, %s) {activity = [#ad<activity active>, #ad<activity dup>, #ad<activity const>], ret_activity = [#ad<activity activenoneed>]} : (f64, memref<4xf64>, memref<4xf64>, i64, f64) -> f64
  func.return %0 : f64
}
