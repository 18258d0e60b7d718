// RUN: cofactor-opt %s -p jam-adjoint-loops | filecheck %s

// The reverse of q[j, k] += l[j, k] * u[k] over j < n, k < m: du[k] is loaded
// and stored for every j. Four j run per pass of the k loop: the copies
// after the first take du[k] from the one before, only the last stores it,
// and u[k] is loaded once. The last n mod 4 rows run in the original loop.
func.func @matvec(%l: memref<?x?xf64>, %u: memref<?xf64>, %dq: memref<?x?xf64>,
                  %dl: memref<?x?xf64>, %du: memref<?xf64>, %n: i64, %m: i64) {
  %c0 = arith.constant 0 : i64
  %c1 = arith.constant 1 : i64
  scf.for %t = %c0 to %n step %c1 : i64 {
    %last = arith.subi %n, %c1 : i64
    %j = arith.subi %last, %t : i64
    %ij = arith.index_cast %j : i64 to index
    scf.for %k = %c0 to %m step %c1 : i64 {
      %ik = arith.index_cast %k : i64 to index
      %g = memref.load %dq[%ij, %ik] : memref<?x?xf64>
      %uk = memref.load %u[%ik] : memref<?xf64>
      %ljk = memref.load %l[%ij, %ik] : memref<?x?xf64>
      %gu = arith.mulf %g, %uk : f64
      %dljk = memref.load %dl[%ij, %ik] : memref<?x?xf64>
      %dl1 = arith.addf %dljk, %gu : f64
      memref.store %dl1, %dl[%ij, %ik] : memref<?x?xf64>
      %gl = arith.mulf %g, %ljk : f64
      %duk = memref.load %du[%ik] : memref<?xf64>
      %du1 = arith.addf %duk, %gl : f64
      memref.store %du1, %du[%ik] : memref<?xf64>
    } {ad.adjoint}
  } {ad.adjoint}
  func.return
}

// CHECK-LABEL: func.func @matvec
// CHECK:         %[[ZERO:[0-9]+]] = arith.constant 0 : i64
// CHECK-NEXT:    %[[FOUR:.*]] = arith.constant 4 : i64
// CHECK-NEXT:    %[[TRIPS:.*]] = arith.subi %n, %c0 : i64
// CHECK-NEXT:    %[[POS:.*]] = arith.maxsi %[[TRIPS]], %[[ZERO]] : i64
// CHECK-NEXT:    %[[REST:.*]] = arith.remsi %[[POS]], %[[FOUR]] : i64
// CHECK-NEXT:    %[[JAMMED:.*]] = arith.subi %[[POS]], %[[REST]] : i64
// CHECK-NEXT:    %[[SPLIT:.*]] = arith.addi %c0, %[[JAMMED]] : i64
// CHECK-NEXT:    scf.for %[[T:.*]] = %c0 to %[[SPLIT]] step %[[FOUR]] : i64 {
// CHECK-NEXT:      %[[LAST:.*]] = arith.subi %n, %c1 : i64
// CHECK-NEXT:      %[[J0:.*]] = arith.subi %[[LAST]], %[[T]] : i64
// CHECK-NEXT:      %[[IJ0:.*]] = arith.index_cast %[[J0]] : i64 to index
// CHECK-NEXT:      %[[ONE:.*]] = arith.constant 1 : i64
// CHECK-NEXT:      %[[T1:.*]] = arith.addi %[[T]], %[[ONE]] : i64
// CHECK-NEXT:      %[[J1:.*]] = arith.subi %[[LAST]], %[[T1]] : i64
// CHECK-NEXT:      %[[IJ1:.*]] = arith.index_cast %[[J1]] : i64 to index
// CHECK-NEXT:      %[[TWO:.*]] = arith.constant 2 : i64
// CHECK-NEXT:      %[[T2:.*]] = arith.addi %[[T]], %[[TWO]] : i64
// CHECK-NEXT:      %[[J2:.*]] = arith.subi %[[LAST]], %[[T2]] : i64
// CHECK-NEXT:      %[[IJ2:.*]] = arith.index_cast %[[J2]] : i64 to index
// CHECK-NEXT:      %[[THREE:.*]] = arith.constant 3 : i64
// CHECK-NEXT:      %[[T3:.*]] = arith.addi %[[T]], %[[THREE]] : i64
// CHECK-NEXT:      %[[J3:.*]] = arith.subi %[[LAST]], %[[T3]] : i64
// CHECK-NEXT:      %[[IJ3:.*]] = arith.index_cast %[[J3]] : i64 to index
// CHECK-NEXT:      scf.for %[[K:.*]] = %c0 to %m step %c1 : i64 {
// CHECK-NEXT:        %[[IK:.*]] = arith.index_cast %[[K]] : i64 to index
// CHECK-NEXT:        %[[G0:.*]] = memref.load %dq[%[[IJ0]], %[[IK]]] : memref<?x?xf64>
// CHECK-NEXT:        %[[UK:.*]] = memref.load %u[%[[IK]]] : memref<?xf64>
// CHECK-NEXT:        %[[L0:.*]] = memref.load %l[%[[IJ0]], %[[IK]]] : memref<?x?xf64>
// CHECK-NEXT:        %[[GU0:.*]] = arith.mulf %[[G0]], %[[UK]] : f64
// CHECK-NEXT:        %[[DL0:.*]] = memref.load %dl[%[[IJ0]], %[[IK]]] : memref<?x?xf64>
// CHECK-NEXT:        %[[DLS0:.*]] = arith.addf %[[DL0]], %[[GU0]] : f64
// CHECK-NEXT:        memref.store %[[DLS0]], %dl[%[[IJ0]], %[[IK]]] : memref<?x?xf64>
// CHECK-NEXT:        %[[GL0:.*]] = arith.mulf %[[G0]], %[[L0]] : f64
// CHECK-NEXT:        %[[DU:.*]] = memref.load %du[%[[IK]]] : memref<?xf64>
// CHECK-NEXT:        %[[DUS0:.*]] = arith.addf %[[DU]], %[[GL0]] : f64
// CHECK-NEXT:        %[[G1:.*]] = memref.load %dq[%[[IJ1]], %[[IK]]] : memref<?x?xf64>
// CHECK-NEXT:        %[[L1:.*]] = memref.load %l[%[[IJ1]], %[[IK]]] : memref<?x?xf64>
// CHECK-NEXT:        %[[GU1:.*]] = arith.mulf %[[G1]], %[[UK]] : f64
// CHECK-NEXT:        %[[DL1:.*]] = memref.load %dl[%[[IJ1]], %[[IK]]] : memref<?x?xf64>
// CHECK-NEXT:        %[[DLS1:.*]] = arith.addf %[[DL1]], %[[GU1]] : f64
// CHECK-NEXT:        memref.store %[[DLS1]], %dl[%[[IJ1]], %[[IK]]] : memref<?x?xf64>
// CHECK-NEXT:        %[[GL1:.*]] = arith.mulf %[[G1]], %[[L1]] : f64
// CHECK-NEXT:        %[[DUS1:.*]] = arith.addf %[[DUS0]], %[[GL1]] : f64
// CHECK:             %[[G3:.*]] = memref.load %dq[%[[IJ3]], %[[IK]]] : memref<?x?xf64>
// CHECK-NEXT:        %[[L3:.*]] = memref.load %l[%[[IJ3]], %[[IK]]] : memref<?x?xf64>
// CHECK:             %[[GL3:.*]] = arith.mulf %[[G3]], %[[L3]] : f64
// CHECK-NEXT:        %[[DUS3:.*]] = arith.addf %{{.*}}, %[[GL3]] : f64
// CHECK-NEXT:        memref.store %[[DUS3]], %du[%[[IK]]] : memref<?xf64>
// CHECK-NEXT:      } {ad.adjoint}
// CHECK-NEXT:    } {ad.adjoint}
// CHECK-NEXT:    scf.for %{{.*}} = %[[SPLIT]] to %n step %c1 : i64 {
// CHECK-NEXT:      %{{.*}} = arith.subi %n, %c1 : i64
// CHECK:             memref.store %{{.*}}, %du[%{{.*}}] : memref<?xf64>
// CHECK-NEXT:      } {ad.adjoint}
// CHECK-NEXT:    } {ad.adjoint}
// CHECK-NEXT:    func.return

// Left alone: a pop in the inner loop (the copies would pop out of order);
// an increment of s[j] at every k (two iterations at different k touch one
// element); nothing shared between the rows (each access depends on j).
func.func @kept(%tape: !ad.cache<f64>, %dq: memref<?x?xf64>, %ds: memref<?xf64>,
                %du: memref<?xf64>, %n: i64, %m: i64) {
  %c0 = arith.constant 0 : i64
  %c1 = arith.constant 1 : i64
  scf.for %t = %c0 to %n step %c1 : i64 {
    %ij = arith.index_cast %t : i64 to index
    scf.for %k = %c0 to %m step %c1 : i64 {
      %ik = arith.index_cast %k : i64 to index
      %p = ad.pop %tape : !ad.cache<f64>
      %duk = memref.load %du[%ik] : memref<?xf64>
      %du1 = arith.addf %duk, %p : f64
      memref.store %du1, %du[%ik] : memref<?xf64>
    } {ad.adjoint}
  } {ad.adjoint}
  scf.for %t = %c0 to %n step %c1 : i64 {
    %ij = arith.index_cast %t : i64 to index
    scf.for %k = %c0 to %m step %c1 : i64 {
      %ik = arith.index_cast %k : i64 to index
      %g = memref.load %dq[%ij, %ik] : memref<?x?xf64>
      %s = memref.load %ds[%ij] : memref<?xf64>
      %s1 = arith.addf %s, %g : f64
      memref.store %s1, %ds[%ij] : memref<?xf64>
      %duk = memref.load %du[%ik] : memref<?xf64>
      %du1 = arith.addf %duk, %g : f64
      memref.store %du1, %du[%ik] : memref<?xf64>
    } {ad.adjoint}
  } {ad.adjoint}
  scf.for %t = %c0 to %n step %c1 : i64 {
    %ij = arith.index_cast %t : i64 to index
    scf.for %k = %c0 to %m step %c1 : i64 {
      %ik = arith.index_cast %k : i64 to index
      %g = memref.load %dq[%ij, %ik] : memref<?x?xf64>
      memref.store %g, %dq[%ij, %ik] : memref<?x?xf64>
    } {ad.adjoint}
  } {ad.adjoint}
  func.return
}

// CHECK-LABEL: func.func @kept
// CHECK-NOT:     arith.remsi
// CHECK:         func.return
