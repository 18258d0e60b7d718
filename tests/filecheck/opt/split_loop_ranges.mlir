// RUN: cofactor-opt %s -p split-loop-ranges,canonicalize | filecheck %s

// y[j] = x[(j + 1) % n] written as a test: j + 1 == n only at j = n - 1, so
// the range splits there (cuts n - 1 and n; n is the bound, so it drops out).
// The pieces run when 0 <= n - 1 <= n (else the original loop): [0, n - 1)
// reads x[j + 1], [n - 1, n) reads x[0].
func.func @wrap(%x: memref<?xf64>, %y: memref<?xf64>, %n: i64) {
  %c0 = arith.constant 0 : i64
  %c1 = arith.constant 1 : i64
  scf.for %j = %c0 to %n step %c1 : i64 {
    %jp = arith.addi %j, %c1 : i64
    %last = arith.cmpi eq, %jp, %n : i64
    %k = arith.select %last, %c0, %jp : i64
    %i = arith.index_cast %k : i64 to index
    %v = memref.load %x[%i] : memref<?xf64>
    %o = arith.index_cast %j : i64 to index
    memref.store %v, %y[%o] : memref<?xf64>
  }
  func.return
}

// Left alone: the test compares with a value loaded in the loop.
func.func @data(%x: memref<?xf64>, %y: memref<?xi64>, %n: i64) {
  %c0 = arith.constant 0 : i64
  %c1 = arith.constant 1 : i64
  %zero = arith.constant 0.0 : f64
  scf.for %j = %c0 to %n step %c1 : i64 {
    %o = arith.index_cast %j : i64 to index
    %m = memref.load %y[%o] : memref<?xi64>
    %small = arith.cmpi slt, %j, %m : i64
    scf.if %small {
      memref.store %zero, %x[%o] : memref<?xf64>
    }
  }
  func.return
}

// CHECK-LABEL: func.func @wrap(
// CHECK-NEXT:    %c0 = arith.constant 0 : i64
// CHECK-NEXT:    %c1 = arith.constant 1 : i64
// CHECK-NEXT:    %0 = arith.constant -1 : i64
// CHECK-NEXT:    %1 = arith.addi %n, %0 : i64
// CHECK-NEXT:    %2 = arith.cmpi sle, %c0, %1 : i64
// CHECK-NEXT:    %3 = arith.cmpi sle, %1, %n : i64
// CHECK-NEXT:    %4 = arith.constant true
// CHECK-NEXT:    %5 = arith.andi %2, %3 : i1
// CHECK-NEXT:    %6 = arith.andi %5, %4 : i1
// CHECK-NEXT:    scf.if %6 {
// CHECK-NEXT:      scf.for %j = %c0 to %1 step %c1 : i64 {
// CHECK-NEXT:        %jp = arith.addi %j, %c1 : i64
// CHECK-NEXT:        %i = arith.index_cast %jp : i64 to index
// CHECK-NEXT:        %v = memref.load %x[%i] : memref<?xf64>
// CHECK-NEXT:        %o = arith.index_cast %j : i64 to index
// CHECK-NEXT:        memref.store %v, %y[%o] : memref<?xf64>
// CHECK-NEXT:      }
// CHECK-NEXT:      scf.for %j_1 = %1 to %n step %c1 : i64 {
// CHECK-NEXT:        %i_1 = arith.index_cast %c0 : i64 to index
// CHECK-NEXT:        %v_1 = memref.load %x[%i_1] : memref<?xf64>
// CHECK-NEXT:        %o_1 = arith.index_cast %j_1 : i64 to index
// CHECK-NEXT:        memref.store %v_1, %y[%o_1] : memref<?xf64>
// CHECK-NEXT:      }
// CHECK-NEXT:    } else {
// CHECK-NEXT:      scf.for %j_2 = %c0 to %n step %c1 : i64 {
// CHECK-NEXT:        %jp_1 = arith.addi %j_2, %c1 : i64
// CHECK-NEXT:        %last = arith.cmpi eq, %jp_1, %n : i64
// CHECK-NEXT:        %k = arith.select %last, %c0, %jp_1 : i64
// CHECK-NEXT:        %i_2 = arith.index_cast %k : i64 to index
// CHECK-NEXT:        %v_2 = memref.load %x[%i_2] : memref<?xf64>
// CHECK-NEXT:        %o_2 = arith.index_cast %j_2 : i64 to index
// CHECK-NEXT:        memref.store %v_2, %y[%o_2] : memref<?xf64>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return
// CHECK-NEXT:  }

// CHECK-LABEL: func.func @data(
// CHECK-NEXT:    %c0 = arith.constant 0 : i64
// CHECK-NEXT:    %c1 = arith.constant 1 : i64
// CHECK-NEXT:    %zero = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    scf.for %j = %c0 to %n step %c1 : i64 {
// CHECK-NEXT:      %o = arith.index_cast %j : i64 to index
// CHECK-NEXT:      %m = memref.load %y[%o] : memref<?xi64>
// CHECK-NEXT:      %small = arith.cmpi slt, %j, %m : i64
// CHECK-NEXT:      scf.if %small {
// CHECK-NEXT:        memref.store %zero, %x[%o] : memref<?xf64>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return
// CHECK-NEXT:  }
