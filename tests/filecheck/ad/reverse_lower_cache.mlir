// RUN: cofactor-opt %s -p ad-lower-cache | filecheck %s

// A cache becomes a buffer, a count and a capacity, threaded through the scf
// ops that use it; a reservation grows the buffer (realloc) only when the
// count would pass the capacity; a push stores and counts up, a pop counts
// down and loads. The buffer is freed where the cache was made. It starts at
// the capacity its slot kept when the function last returned (0 at first).
// The module counts the slots.
func.func @loop(%x: f64, %n: i64) -> f64 {
  %c = ad.init : !ad.cache<f64>
  %lb = arith.constant 0 : i64
  %one = arith.constant 1 : i64
  ad.reserve %c, %n : !ad.cache<f64>
  scf.for %i = %lb to %n step %one : i64 {
    ad.push %c, %x : !ad.cache<f64>
  }
  %zero = arith.constant 0.0 : f64
  %r = scf.for %i = %lb to %n step %one iter_args(%s = %zero) -> (f64) : i64 {
    %v = ad.pop %c : !ad.cache<f64>
    %t = arith.addf %s, %v : f64
    scf.yield %t : f64
  }
  func.return %r : f64
}

// A cache argument becomes three arguments, and its final state is returned
// after the results; a call passes and takes back the state.
func.func private @callee(%x: f64, %c: !ad.cache<f64>) {
  %one = arith.constant 1 : i64
  ad.reserve %c, %one : !ad.cache<f64>
  ad.push %c, %x : !ad.cache<f64>
  func.return
}

func.func @caller(%x: f64) -> f64 {
  %c = ad.init : !ad.cache<f64>
  func.call @callee(%x, %c) : (f64, !ad.cache<f64>) -> ()
  %v = ad.pop %c : !ad.cache<f64>
  func.return %v : f64
}

// CHECK:       builtin.module attributes {cofactor.tape_slots = 2 : i64} {
// CHECK-LABEL: func.func @loop(%x: f64, %n: i64) -> f64 {
// CHECK:         %tape = builtin.unrealized_conversion_cast %{{.*}} : !llvm.struct<(!llvm.ptr, !llvm.array<1 x i64>, !llvm.array<1 x i64>)> to memref<?xf64>
// CHECK-NEXT:    %[[HINT:.*]] = func.call @cofactor_tape_hint(%[[ZERO:.*]]) : (i64) -> i64
// CHECK-NEXT:    %[[HEND:.*]] = arith.addi %[[ZERO]], %[[HINT]] : i64
// CHECK-NEXT:    %[[SHORT:.*]] = arith.cmpi sgt, %[[HEND]], %[[ZERO]] : i64
// CHECK-NEXT:    %[[BUF0:.*]], %[[CAP0:.*]] = scf.if %[[SHORT]] -> (memref<?xf64>, i64) {
// CHECK-NEXT:      %{{.*}}, %{{.*}} = func.call @ad_cache_grow_f64(%tape, %[[ZERO]], %[[ZERO]], %[[HINT]]) : (memref<?xf64>, i64, i64, i64) -> (memref<?xf64>, i64)
// CHECK:         } else {
// CHECK-NEXT:      scf.yield %tape, %[[ZERO]] : memref<?xf64>, i64
// CHECK-NEXT:    }
// CHECK:         %[[END:.*]] = arith.addi %[[ZERO]], %n : i64
// CHECK-NEXT:    %[[FULL:.*]] = arith.cmpi sgt, %[[END]], %[[CAP0]] : i64
// CHECK-NEXT:    %[[BUF:.*]], %[[CAP:.*]] = scf.if %[[FULL]] -> (memref<?xf64>, i64) {
// CHECK-NEXT:      %{{.*}}, %{{.*}} = func.call @ad_cache_grow_f64(%[[BUF0]], %[[ZERO]], %[[CAP0]], %n) : (memref<?xf64>, i64, i64, i64) -> (memref<?xf64>, i64)
// CHECK:         } else {
// CHECK-NEXT:      scf.yield %[[BUF0]], %[[CAP0]] : memref<?xf64>, i64
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[B1:.*]], %[[T1:.*]], %[[C1:.*]] = scf.for %i = %lb to %n step %one iter_args(%[[B:.*]] = %[[BUF]], %[[T:.*]] = %[[ZERO]], %[[C:.*]] = %[[CAP]]) -> (memref<?xf64>, i64, i64) : i64 {
// CHECK-NEXT:      %[[K:.*]] = arith.index_cast %[[T]] : i64 to index
// CHECK-NEXT:      memref.store %x, %[[B]][%[[K]]] : memref<?xf64>
// CHECK-NEXT:      %[[ONE:.*]] = arith.constant 1 : i64
// CHECK-NEXT:      %[[NEXT:.*]] = arith.addi %[[T]], %[[ONE]] : i64
// CHECK-NEXT:      scf.yield %[[B]], %[[NEXT]], %[[C]] : memref<?xf64>, i64, i64
// CHECK-NEXT:    }
// CHECK:         %r, %[[B2:.*]], %{{.*}}, %[[C2:.*]] = scf.for %i_1 = %lb to %n step %one iter_args(%s = %zero, %[[B3:.*]] = %[[B1]], %[[T3:.*]] = %[[T1]], %{{.*}} = %[[C1]]) -> (f64, memref<?xf64>, i64, i64) : i64 {
// CHECK-NEXT:      %[[ONE2:.*]] = arith.constant 1 : i64
// CHECK-NEXT:      %[[T4:.*]] = arith.subi %[[T3]], %[[ONE2]] : i64
// CHECK-NEXT:      %[[K2:.*]] = arith.index_cast %[[T4]] : i64 to index
// CHECK-NEXT:      %v = memref.load %[[B3]][%[[K2]]] : memref<?xf64>
// CHECK:         %[[SLOT:.*]] = arith.constant 0 : i64
// CHECK-NEXT:    func.call @cofactor_tape_keep(%[[SLOT]], %[[C2]]) : (i64, i64) -> ()
// CHECK-NEXT:    %[[DESC:.*]] = builtin.unrealized_conversion_cast %[[B2]] : memref<?xf64> to !llvm.struct<(!llvm.ptr, !llvm.array<1 x i64>, !llvm.array<1 x i64>)>
// CHECK-NEXT:    %[[PTR:.*]] = llvm.extractvalue %[[DESC]][0]
// CHECK-NEXT:    func.call @free(%[[PTR]]) : (!llvm.ptr) -> ()
// CHECK-NEXT:    func.return %r : f64

// CHECK-LABEL: func.func private @callee(%x: f64, %0: memref<?xf64>, %1: i64, %2: i64) -> (memref<?xf64>, i64, i64) {
// CHECK:         func.return %{{.*}}, %{{.*}}, %{{.*}} : memref<?xf64>, i64, i64

// CHECK-LABEL: func.func @caller(%x: f64) -> f64 {
// CHECK:         %[[S:.*]], %[[TOP:.*]], %{{.*}} = func.call @callee(%x, %{{.*}}, %{{.*}}, %{{.*}}) : (f64, memref<?xf64>, i64, i64) -> (memref<?xf64>, i64, i64)
// CHECK-NEXT:    %[[ONE:.*]] = arith.constant 1 : i64
// CHECK-NEXT:    %[[LAST:.*]] = arith.subi %[[TOP]], %[[ONE]] : i64
// CHECK-NEXT:    %[[K:.*]] = arith.index_cast %[[LAST]] : i64 to index
// CHECK-NEXT:    %v = memref.load %[[S]][%[[K]]] : memref<?xf64>

// The buffer grows by realloc to max(2 capacity, count + n) elements.
// CHECK:       func.func private @realloc(!llvm.ptr, i64) -> !llvm.ptr
// CHECK-LABEL: func.func private @ad_cache_grow_f64(%0: memref<?xf64>, %1: i64, %2: i64, %3: i64) -> (memref<?xf64>, i64) {
// CHECK-NEXT:    %4 = arith.constant 2 : i64
// CHECK-NEXT:    %5 = arith.muli %2, %4 : i64
// CHECK-NEXT:    %6 = arith.addi %1, %3 : i64
// CHECK-NEXT:    %7 = arith.maxsi %5, %6 : i64
// CHECK-NEXT:    %8 = arith.constant 8 : i64
// CHECK-NEXT:    %9 = arith.muli %7, %8 : i64
// CHECK:         %12 = func.call @realloc(%11, %9) : (!llvm.ptr, i64) -> !llvm.ptr
// CHECK:         func.return %18, %7 : memref<?xf64>, i64
