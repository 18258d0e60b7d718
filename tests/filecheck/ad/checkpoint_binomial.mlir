// RUN: cofactor-opt %s -p ad-checkpoint | filecheck %s
// RUN: cofactor-opt %s -p ad-checkpoint,ad-reverse | filecheck %s --check-prefix=REV

// Binomial checkpointing: the loop becomes one call of its outlined body over
// all the steps. Its reverse (Revolve) snapshots the start state, then runs a
// work stack of (lo, hi, free snapshots) items: restore the top snapshot (pop
// and push it back), then
// reverse one step taped (augmented + reverse segment calls), or re-run
// every step from lo (no free snapshot), or advance to the split plainly and
// snapshot there.
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
  } {ad.checkpoint = {schedule = "binomial", snapshots = 4 : i64}}
  func.return %r : f64
}

// CHECK:      func.func @f(%x: f64, %a: memref<4xf64>, %n: i64) -> f64 {
// CHECK:        %r = func.call @f_segment(%x, %lb, %n, %one, %a) {ad.checkpoint = {schedule = "binomial", snapshots = 4 : i64}} : (f64, i64, i64, i64, memref<4xf64>) -> f64
// CHECK-NEXT:   func.return %r : f64
// CHECK:      func.func private @f_segment(

// REV:      func.func private @revdiff_f_adc_x(
// REV:        ad.push %tape, %{{.*}} : !ad.cache<f64>
// REV:        %r = func.call @f_segment(%x, %lb, %n, %one, %a) : (f64, i64, i64, i64, memref<4xf64>) -> f64
// REV:        scf.if %[[ANY:.*]] {
// REV:          ad.push %tape, %x : !ad.cache<f64>
// REV:        %[[WORK:.*]] = memref.alloc(%{{.*}}) : memref<?xi64>
// REV:        %{{.*}}, %[[STEPS:.*]], %{{.*}} = scf.while
// REV:          %[[LO:.*]] = memref.load %[[WORK]][%{{.*}}] : memref<?xi64>
// REV:          %[[HI:.*]] = memref.load %[[WORK]][%{{.*}}] : memref<?xi64>
// REV:          %[[FREE:.*]] = memref.load %[[WORK]][%{{.*}}] : memref<?xi64>
// REV:            memref.store %{{.*}}, %a[%{{.*}}] : memref<4xf64>
// REV-NEXT:     }
// REV-NEXT:     %[[S:.*]] = ad.pop %tape : !ad.cache<f64>
// REV:          ad.reserve %tape
// REV-NEXT:     ad.push %tape, %[[S]] : !ad.cache<f64>
// REV:          %[[M:.*]] = arith.subi %[[HI]], %[[LO]] : i64
// REV:          scf.if %{{.*}} -> (i64, i64, f64) {
// REV:            func.call @augmented_f_segment_acccd_a(%[[S]],
// REV-NEXT:       func.call @reverse_f_segment_acccd_a(%[[S]],
// REV:          } else {
// REV:            arith.cmpi eq, %[[FREE]], %{{.*}} : i64
// REV:            scf.for %{{.*}} = %{{.*}} to %[[M]] step
// REV:              func.call @f_segment(
// REV:              func.call @augmented_f_segment_acccd_a(
// REV:              func.call @reverse_f_segment_acccd_a(
// REV:            } else {
// REV:              scf.while
// REV:              func.call @f_segment(%[[S]], %{{.*}}) : (f64, i64, i64, i64, memref<4xf64>) -> f64
// REV:              memref.store %[[LO]], %[[WORK]]
// REV:        memref.dealloc %[[WORK]] : memref<?xi64>
// REV-NOT:    cofactor_checkpoint_probe

func.func @request(%x: f64, %a: memref<4xf64>, %da: memref<4xf64>, %n: i64, %s: f64) -> f64 {
  %0 = ad.autodiff @f(%x, %a, %da, %n, %s) {activity = [#ad<activity active>, #ad<activity dup>, #ad<activity const>], ret_activity = [#ad<activity activenoneed>]} : (f64, memref<4xf64>, memref<4xf64>, i64, f64) -> f64
  func.return %0 : f64
}
