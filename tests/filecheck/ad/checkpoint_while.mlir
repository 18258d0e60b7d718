// RUN: cofactor-opt %s -p ad-checkpoint | filecheck %s
// RUN: cofactor-opt %s -p ad-checkpoint,ad-reverse | filecheck %s --check-prefix=REV

// A checkpointed while loop (trip count unknown): its before region becomes
// @f_segment_test, its after region @f_segment_body, and @f_segment runs
// steps [lo, hi) of both as an scf.for; the loop calls the first two and
// names the segment in `ad.segment`. The reverse pass runs the loop untaped,
// keeping the state before every `period`-th step in 4 slots (scalars, and
// the array the loop writes); a due snapshot with the slots full first moves
// slot 2j to slot j and doubles the period. After the loop the kept
// snapshots, the final state and (steps, kept, period) go on the tape. The
// reverse sweep restores the final state, reverses the last condition region
// (its forwarded values are the results), then each kept segment, last first,
// by Revolve over the segment function.
func.func @f(%x: f64, %a: memref<4xf64>, %lim: f64) -> f64 {
  %zero = arith.constant 0.000000e+00 : f64
  %i0 = arith.constant 0 : index
  %r, %t = scf.while (%s = %x, %u = %zero) : (f64, f64) -> (f64, f64) {
    %more = arith.cmpf olt, %u, %lim : f64
    %h = arith.mulf %s, %s : f64
    scf.condition(%more) %h, %u : f64, f64
  } do {
  ^bb0(%h2: f64, %u2: f64):
    %v = memref.load %a[%i0] : memref<4xf64>
    %e = math.sin %h2 : f64
    %w = arith.mulf %v, %e : f64
    memref.store %w, %a[%i0] : memref<4xf64>
    %one = arith.constant 1.000000e+00 : f64
    %u3 = arith.addf %u2, %one : f64
    scf.yield %w, %u3 : f64, f64
  } attributes {ad.checkpoint = {schedule = "periodic", snapshots = 4 : i64}}
  func.return %r : f64
}

// CHECK:      func.func @f(%x: f64, %a: memref<4xf64>, %lim: f64) -> f64 {
// CHECK:        %r, %t = scf.while (%[[S:.*]] = %x, %[[U:.*]] = %zero) : (f64, f64) -> (f64, f64) {
// CHECK-NEXT:     %[[C:.*]], %[[H:.*]], %[[V:.*]] = func.call @f_segment_test(%[[S]], %[[U]], %lim, %a) : (f64, f64, f64, memref<4xf64>) -> (i1, f64, f64)
// CHECK-NEXT:     scf.condition(%[[C]]) %[[H]], %[[V]] : f64, f64
// CHECK-NEXT:   } do {
// CHECK-NEXT:   ^{{.*}}(%[[H2:.*]]: f64, %[[U2:.*]]: f64):
// CHECK-NEXT:     %[[W:.*]], %[[U3:.*]] = func.call @f_segment_body(%[[H2]], %[[U2]], %lim, %a) : (f64, f64, f64, memref<4xf64>) -> (f64, f64)
// CHECK-NEXT:     scf.yield %[[W]], %[[U3]] : f64, f64
// CHECK-NEXT:   } attributes {ad.checkpoint = {schedule = "periodic", snapshots = 4 : i64}, ad.segment = @f_segment}
// CHECK:      func.func private @f_segment(%{{.*}}: f64, %{{.*}}: f64, %[[LO:.*]]: i64, %[[HI:.*]]: i64, %[[ST:.*]]: i64, %{{.*}}: f64, %[[A:.*]]: memref<4xf64>) -> (f64, f64) {
// CHECK:        scf.for %{{.*}} = %[[LO]] to %[[HI]] step %[[ST]] iter_args(%[[S2:.*]] = %{{.*}}, %{{.*}} = %{{.*}}) -> (f64, f64) : i64 {
// CHECK:          %h = arith.mulf %[[S2]], %[[S2]] : f64
// CHECK:          %e = math.sin %h : f64
// CHECK:          memref.store %w, %[[A]][%i0] : memref<4xf64>
// CHECK:      func.func private @f_segment_body(
// CHECK:        func.return %w, %u3 : f64, f64
// CHECK:      func.func private @f_segment_test(
// CHECK:        func.return %more, %h, %{{.*}} : i1, f64, f64

// REV:      func.func private @revdiff_f_adc_x(
// REV:        %[[SLOTS:.*]] = arith.constant 4 : index
// REV:        %[[BUF:.*]] = memref.alloc(%[[SLOTS]]) : memref<?xf64>
// REV:        %[[CSIZE:.*]] = arith.index_cast %{{.*}} : i64 to index
// REV-NEXT:   %[[CHUNKS:.*]] = memref.alloc(%[[CSIZE]]) : memref<?xf64>
// REV:        %r, %t, %[[XN:.*]], %{{.*}}, %steps, %kept, %period = scf.while
// REV:          %[[COND:.*]], %{{.*}}, %{{.*}} = func.call @f_segment_test(
// REV:          scf.if %[[COND]] -> (i64, i64) {
// REV:            scf.if %{{.*}} -> (i64, i64) {
// REV:              arith.cmpi eq, %{{.*}}, %{{.*}} : i64
// REV:              scf.if %{{.*}} -> (i64, i64) {
// REV:                scf.for
// REV:                  memref.load %[[BUF]]
// REV:                  memref.store %{{.*}}, %[[BUF]]
// REV:                arith.muli %{{.*}}, %{{.*}} : i64
// REV:              } else {
// REV:              scf.if %{{.*}} -> (i64) {
// REV:                memref.store %{{.*}}, %[[BUF]]
// REV:                  memref.load %a
// REV-NEXT:             arith.index_cast
// REV:                  memref.store %{{.*}}, %[[CHUNKS]]
// REV:        } do {
// REV:          func.call @f_segment_body(
// REV-NOT:    func.call @augmented_f_segment
// REV:        scf.for %{{.*}} = %{{.*}} to %kept step
// REV:          ad.push %tape_1
// REV:        ad.push %tape_1, %[[XN]] : !ad.cache<f64>
// REV:        ad.push %tape, %steps : !ad.cache<i64>
// REV-NEXT:   ad.push %tape, %kept : !ad.cache<i64>
// REV-NEXT:   ad.push %tape, %period : !ad.cache<i64>
// REV:        memref.dealloc %[[BUF]]
// REV:        %[[P:.*]] = ad.pop %tape : !ad.cache<i64>
// REV-NEXT:   %[[K:.*]] = ad.pop %tape : !ad.cache<i64>
// REV-NEXT:   %[[N:.*]] = ad.pop %tape : !ad.cache<i64>
// REV:          memref.store %{{.*}}, %a[%{{.*}}] : memref<4xf64>
// REV:        %[[U4:.*]] = ad.pop %tape_1 : !ad.cache<f64>
// REV-NEXT:   %[[S4:.*]] = ad.pop %tape_1 : !ad.cache<f64>
// REV-NEXT:   func.call @augmented_f_segment_test_accd_cac(%[[S4]], %[[U4]], %lim, %a, %da)
// REV-NEXT:   %[[BAR:.*]] = func.call @reverse_f_segment_test_accd_cac(%[[S4]], %[[U4]], %lim, %a, %da, %{{.*}})
// REV:        scf.for %{{.*}} = %{{.*}} to %[[K]] step %{{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %[[BAR]]) -> (i64, f64) : i64 {
// REV:          arith.muli %{{.*}}, %[[P]] : i64
// REV:          arith.minsi %[[P]], %{{.*}} : i64
// REV:          scf.while
// REV:            func.call @augmented_f_segment_acccccd_ac(
// REV-NEXT:       func.call @reverse_f_segment_acccccd_ac(
// REV:              func.call @f_segment(

func.func @request(%x: f64, %a: memref<4xf64>, %da: memref<4xf64>, %lim: f64, %s: f64) -> f64 {
  %0 = ad.autodiff @f(%x, %a, %da, %lim, %s) {activity = [#ad<activity active>, #ad<activity dup>, #ad<activity const>], ret_activity = [#ad<activity activenoneed>]} : (f64, memref<4xf64>, memref<4xf64>, f64, f64) -> f64
  func.return %0 : f64
}
