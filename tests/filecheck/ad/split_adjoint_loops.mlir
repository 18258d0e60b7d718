// RUN: cofactor-opt %s -p split-adjoint-loops | filecheck %s

// The reverse of out[j] = a[j-1] + 2 a[j] + a[j+1] (j = n-1 down to 0 after
// the reversal): the adjoint g of out[j] is read and zeroed, and a's shadow
// gets three increments at offsets -1, 0, +1. The 0 and +1 ones move to
// loops of their own, before the loop, with copies of the ops their terms
// need; the read and the zeroing stay, with the first increment (-1).
func.func @stencil(%da: memref<?xf64>, %dout: memref<?xf64>, %n: i64) {
  %c0 = arith.constant 0 : i64
  %c1 = arith.constant 1 : i64
  %two = arith.constant 2.0 : f64
  %zero = arith.constant 0.0 : f64
  scf.for %k = %c0 to %n step %c1 : i64 {
    %last = arith.subi %n, %c1 : i64
    %j = arith.subi %last, %k : i64
    %i = arith.index_cast %j : i64 to index
    %jm = arith.subi %j, %c1 : i64
    %im = arith.index_cast %jm : i64 to index
    %jp = arith.addi %j, %c1 : i64
    %ip = arith.index_cast %jp : i64 to index
    %g = memref.load %dout[%i] : memref<?xf64>
    memref.store %zero, %dout[%i] : memref<?xf64>
    %l = memref.load %da[%im] : memref<?xf64>
    %ls = arith.addf %l, %g : f64
    memref.store %ls, %da[%im] : memref<?xf64>
    %g2 = arith.mulf %two, %g : f64
    %c = memref.load %da[%i] : memref<?xf64>
    %cs = arith.addf %c, %g2 : f64
    memref.store %cs, %da[%i] : memref<?xf64>
    %r = memref.load %da[%ip] : memref<?xf64>
    %rs = arith.addf %g, %r : f64
    memref.store %rs, %da[%ip] : memref<?xf64>
  } {ad.adjoint}
  func.return
}

// CHECK-LABEL: func.func @stencil
// CHECK:         scf.for %[[K1:.*]] = %c0 to %n step %c1 : i64 {
// CHECK-NEXT:      %[[LAST1:.*]] = arith.subi %n, %c1 : i64
// CHECK-NEXT:      %[[J1:.*]] = arith.subi %[[LAST1]], %[[K1]] : i64
// CHECK-NEXT:      %[[I1:.*]] = arith.index_cast %[[J1]] : i64 to index
// CHECK-NEXT:      %[[G1:.*]] = memref.load %dout[%[[I1]]] : memref<?xf64>
// CHECK-NEXT:      %[[T1:.*]] = arith.mulf %two, %[[G1]] : f64
// CHECK-NEXT:      %[[C1:.*]] = memref.load %da[%[[I1]]] : memref<?xf64>
// CHECK-NEXT:      %[[S1:.*]] = arith.addf %[[C1]], %[[T1]] : f64
// CHECK-NEXT:      memref.store %[[S1]], %da[%[[I1]]] : memref<?xf64>
// CHECK-NEXT:    }
// CHECK-NEXT:    scf.for %[[K2:.*]] = %c0 to %n step %c1 : i64 {
// CHECK-NEXT:      %[[LAST2:.*]] = arith.subi %n, %c1 : i64
// CHECK-NEXT:      %[[J2:.*]] = arith.subi %[[LAST2]], %[[K2]] : i64
// CHECK-NEXT:      %[[I2:.*]] = arith.index_cast %[[J2]] : i64 to index
// CHECK-NEXT:      %[[JP2:.*]] = arith.addi %[[J2]], %c1 : i64
// CHECK-NEXT:      %[[IP2:.*]] = arith.index_cast %[[JP2]] : i64 to index
// CHECK-NEXT:      %[[G2:.*]] = memref.load %dout[%[[I2]]] : memref<?xf64>
// CHECK-NEXT:      %[[R2:.*]] = memref.load %da[%[[IP2]]] : memref<?xf64>
// CHECK-NEXT:      %[[S2:.*]] = arith.addf %[[G2]], %[[R2]] : f64
// CHECK-NEXT:      memref.store %[[S2]], %da[%[[IP2]]] : memref<?xf64>
// CHECK-NEXT:    }
// CHECK-NEXT:    scf.for %[[K:.*]] = %c0 to %n step %c1 : i64 {
// CHECK-NEXT:      %[[LAST:.*]] = arith.subi %n, %c1 : i64
// CHECK-NEXT:      %[[J:.*]] = arith.subi %[[LAST]], %[[K]] : i64
// CHECK-NEXT:      %[[I:.*]] = arith.index_cast %[[J]] : i64 to index
// CHECK-NEXT:      %[[JM:.*]] = arith.subi %[[J]], %c1 : i64
// CHECK-NEXT:      %[[IM:.*]] = arith.index_cast %[[JM]] : i64 to index
// CHECK-NEXT:      %[[G:.*]] = memref.load %dout[%[[I]]] : memref<?xf64>
// CHECK-NEXT:      memref.store %zero, %dout[%[[I]]] : memref<?xf64>
// CHECK-NEXT:      %[[L:.*]] = memref.load %da[%[[IM]]] : memref<?xf64>
// CHECK-NEXT:      %[[LS:.*]] = arith.addf %[[L]], %[[G]] : f64
// CHECK-NEXT:      memref.store %[[LS]], %da[%[[IM]]] : memref<?xf64>
// CHECK-NEXT:    } {ad.adjoint}

// Left alone: the term of the +1 increment is a value popped from the tape
// (a copy would pop again).
func.func @popped(%da: memref<?xf64>, %n: i64, %tape: !ad.cache<f64>) {
  %c0 = arith.constant 0 : i64
  %c1 = arith.constant 1 : i64
  scf.for %k = %c0 to %n step %c1 : i64 {
    %i = arith.index_cast %k : i64 to index
    %jp = arith.addi %k, %c1 : i64
    %ip = arith.index_cast %jp : i64 to index
    %g = ad.pop %tape : !ad.cache<f64>
    %c = memref.load %da[%i] : memref<?xf64>
    %cs = arith.addf %c, %g : f64
    memref.store %cs, %da[%i] : memref<?xf64>
    %r = memref.load %da[%ip] : memref<?xf64>
    %rs = arith.addf %r, %g : f64
    memref.store %rs, %da[%ip] : memref<?xf64>
  } {ad.adjoint}
  func.return
}

// CHECK-LABEL: func.func @popped
// CHECK:         scf.for
// CHECK-NOT:     scf.for
// CHECK:       func.return

// Left alone: the loop reads the incremented array elsewhere (the +1
// increment would no longer see the offset-0 one's sum at the same point).
func.func @read_elsewhere(%da: memref<?xf64>, %dy: memref<?xf64>, %n: i64) {
  %c0 = arith.constant 0 : i64
  %c1 = arith.constant 1 : i64
  scf.for %k = %c0 to %n step %c1 : i64 {
    %i = arith.index_cast %k : i64 to index
    %jp = arith.addi %k, %c1 : i64
    %ip = arith.index_cast %jp : i64 to index
    %g = memref.load %dy[%i] : memref<?xf64>
    %c = memref.load %da[%i] : memref<?xf64>
    %cs = arith.addf %c, %g : f64
    memref.store %cs, %da[%i] : memref<?xf64>
    %r = memref.load %da[%ip] : memref<?xf64>
    %rs = arith.addf %r, %g : f64
    memref.store %rs, %da[%ip] : memref<?xf64>
    %x = memref.load %da[%i] : memref<?xf64>
    memref.store %x, %dy[%i] : memref<?xf64>
  } {ad.adjoint}
  func.return
}

// CHECK-LABEL: func.func @read_elsewhere
// CHECK:         scf.for
// CHECK-NOT:     scf.for
// CHECK:       func.return

// Left alone: not a reverse loop (no ad.adjoint); a primal's sums keep
// their order.
func.func @primal(%da: memref<?xf64>, %dy: memref<?xf64>, %n: i64) {
  %c0 = arith.constant 0 : i64
  %c1 = arith.constant 1 : i64
  scf.for %k = %c0 to %n step %c1 : i64 {
    %i = arith.index_cast %k : i64 to index
    %jp = arith.addi %k, %c1 : i64
    %ip = arith.index_cast %jp : i64 to index
    %g = memref.load %dy[%i] : memref<?xf64>
    %c = memref.load %da[%i] : memref<?xf64>
    %cs = arith.addf %c, %g : f64
    memref.store %cs, %da[%i] : memref<?xf64>
    %r = memref.load %da[%ip] : memref<?xf64>
    %rs = arith.addf %r, %g : f64
    memref.store %rs, %da[%ip] : memref<?xf64>
  }
  func.return
}

// CHECK-LABEL: func.func @primal
// CHECK:         scf.for
// CHECK-NOT:     scf.for
// CHECK:       func.return
