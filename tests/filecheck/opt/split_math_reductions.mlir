// RUN: cofactor-opt %s -p split-math-reductions | filecheck %s

// s += exp(v[i] - m), the exp's value also pushed to the tape: strips of 64;
// each strip's exps go to a stack buffer first (a loop without the sum), then
// the sum and the push read them back, in the original order.
func.func @sum_exp(%v: memref<?xf64>, %m: f64, %n: i64, %tape: !ad.cache<f64>) -> f64 {
  %c0 = arith.constant 0 : i64
  %c1 = arith.constant 1 : i64
  %zero = arith.constant 0.0 : f64
  %s = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %zero) -> (f64) : i64 {
    %ii = arith.index_cast %i : i64 to index
    %x = memref.load %v[%ii] : memref<?xf64>
    %d = arith.subf %x, %m : f64
    %e = math.exp %d : f64
    %acc1 = arith.addf %acc, %e : f64
    ad.push %tape, %e : !ad.cache<f64>
    scf.yield %acc1 : f64
  }
  func.return %s : f64
}

// CHECK-LABEL: func.func @sum_exp
// CHECK-NEXT:    %[[BUF:.*]] = memref.alloca() : memref<64xf64>
// CHECK:         %[[STRIP:.*]] = arith.constant 64 : i64
// CHECK-NEXT:    %[[S:.*]] = scf.for %[[START:.*]] = %c0 to %n step %[[STRIP]] iter_args(%[[ACC0:.*]] = %zero) -> (f64) : i64 {
// CHECK-NEXT:      %[[FAR:.*]] = arith.addi %[[START]], %[[STRIP]] : i64
// CHECK-NEXT:      %[[END:.*]] = arith.minsi %[[FAR]], %n : i64
// CHECK-NEXT:      scf.for %[[J:.*]] = %[[START]] to %[[END]] step %c1 : i64 {
// CHECK-NEXT:        %[[JJ:.*]] = arith.index_cast %[[J]] : i64 to index
// CHECK-NEXT:        %[[X:.*]] = memref.load %v[%[[JJ]]] : memref<?xf64>
// CHECK-NEXT:        %[[D:.*]] = arith.subf %[[X]], %m : f64
// CHECK-NEXT:        %[[E:.*]] = math.exp %[[D]] : f64
// CHECK-NEXT:        %[[OFF:.*]] = arith.subi %[[J]], %[[START]] : i64
// CHECK-NEXT:        %[[AT:.*]] = arith.index_cast %[[OFF]] : i64 to index
// CHECK-NEXT:        memref.store %[[E]], %[[BUF]][%[[AT]]] : memref<64xf64>
// CHECK-NEXT:      }
// CHECK-NEXT:      %[[SUM:.*]] = scf.for %[[I:.*]] = %[[START]] to %[[END]] step %c1 iter_args(%[[ACC:.*]] = %[[ACC0]]) -> (f64) : i64 {
// CHECK-NEXT:        %[[OFF2:.*]] = arith.subi %[[I]], %[[START]] : i64
// CHECK-NEXT:        %[[AT2:.*]] = arith.index_cast %[[OFF2]] : i64 to index
// CHECK-NEXT:        %[[E2:.*]] = memref.load %[[BUF]][%[[AT2]]] : memref<64xf64>
// CHECK-NEXT:        %[[ACC1:.*]] = arith.addf %[[ACC]], %[[E2]] : f64
// CHECK-NEXT:        ad.push %tape, %[[E2]] : !ad.cache<f64>
// CHECK-NEXT:        scf.yield %[[ACC1]] : f64
// CHECK-NEXT:      }
// CHECK-NEXT:      scf.yield %[[SUM]] : f64
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[S]] : f64

// Left alone: a store in the loop (a moved load could pass it); the exp of
// the carried value; no float carried (nothing keeps LLVM from vectorizing).
func.func @kept(%v: memref<?xf64>, %w: memref<?xf64>, %n: i64) -> (f64, f64) {
  %c0 = arith.constant 0 : i64
  %c1 = arith.constant 1 : i64
  %zero = arith.constant 0.0 : f64
  %a = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %zero) -> (f64) : i64 {
    %ii = arith.index_cast %i : i64 to index
    %x = memref.load %v[%ii] : memref<?xf64>
    %e = math.exp %x : f64
    memref.store %e, %w[%ii] : memref<?xf64>
    %acc1 = arith.addf %acc, %e : f64
    scf.yield %acc1 : f64
  }
  %b = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %zero) -> (f64) : i64 {
    %e = math.sin %acc : f64
    scf.yield %e : f64
  }
  scf.for %i = %c0 to %n step %c1 : i64 {
    %ii = arith.index_cast %i : i64 to index
    %x = memref.load %v[%ii] : memref<?xf64>
    %e = math.log %x : f64
    memref.store %e, %w[%ii] : memref<?xf64>
  }
  func.return %a, %b : f64, f64
}

// CHECK-LABEL: func.func @kept
// CHECK-NOT:     memref.alloca
// CHECK-NOT:     arith.minsi
// CHECK:         func.return
