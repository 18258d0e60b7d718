// RUN: cofactor-opt %s -p ad-checkpoint | filecheck %s

// `tape_limit` on a while loop: a copy runs (taped) while its steps fit the
// limit, 1000 bytes over an estimate of 8 bytes per scalar one step computes
// (here 5 values: 40 bytes, so 25 steps), counting them; if they ran out, the
// rest runs as the original loop, now checkpointed online, from the state the
// copy forwarded (which is its arguments, so nothing more is forwarded).
func.func @f(%x: f64, %lim: f64) -> f64 {
  %r = scf.while (%s = %x) : (f64) -> (f64) {
    %more = arith.cmpf olt, %s, %lim : f64
    scf.condition(%more) %s : f64
  } do {
  ^bb0(%s2: f64):
    %e = math.sin %s2 : f64
    %two = arith.constant 2.000000e+00 : f64
    %t = arith.addf %e, %two : f64
    %u = arith.addf %s2, %t : f64
    scf.yield %u : f64
  } attributes {ad.tape_limit = 1000 : i64}
  func.return %r : f64
}

// CHECK:      func.func @f(%x: f64, %lim: f64) -> f64 {
// CHECK-NEXT:   %[[PER:.*]] = arith.constant 40 : i64
// CHECK-NEXT:   %[[LIMIT:.*]] = arith.constant 1000 : i64
// CHECK-NEXT:   %[[STEPS:.*]] = arith.divsi %[[LIMIT]], %[[PER]] : i64
// CHECK-NEXT:   %[[ZERO:.*]] = arith.constant 0 : i64
// CHECK-NEXT:   %[[S:.*]], %[[N:.*]] = scf.while (%[[A:.*]] = %x, %[[K:.*]] = %[[ZERO]]) : (f64, i64) -> (f64, i64) {
// CHECK-NEXT:     %more = arith.cmpf olt, %[[A]], %lim : f64
// CHECK-NEXT:     %[[IN:.*]] = arith.cmpi slt, %[[K]], %[[STEPS]] : i64
// CHECK-NEXT:     %[[BOTH:.*]] = arith.andi %more, %[[IN]] : i1
// CHECK-NEXT:     scf.condition(%[[BOTH]]) %[[A]], %[[K]] : f64, i64
// CHECK-NEXT:   } do {
// CHECK:          math.sin
// CHECK:          arith.addi %{{.*}}, %{{.*}} : i64
// CHECK-NEXT:     scf.yield
// CHECK-NEXT:   }
// CHECK-NEXT:   %[[OUT:.*]] = arith.cmpi sge, %[[N]], %[[STEPS]] : i64
// CHECK-NEXT:   %r = scf.if %[[OUT]] -> (f64) {
// CHECK-NEXT:     %{{.*}} = scf.while (%{{.*}} = %[[S]]) : (f64) -> f64 {
// CHECK-NEXT:       func.call @f_segment_test(
// CHECK:          } attributes {ad.checkpoint = {schedule = "binomial", snapshots = 0 : i64}, ad.segment = @f_segment}
// CHECK:        } else {
// CHECK-NEXT:     scf.yield %[[S]] : f64
// CHECK-NEXT:   }
// CHECK-NEXT:   func.return %r : f64
