// RUN: cofactor-opt %s -p lower-memref-to-llvm | filecheck %s

// A stride the type fixes is a constant: 1 adds the index as it is (a cache
// buffer, a fresh allocation's last dimension), another one multiplies by it;
// only dynamic strides are read from the descriptor.
func.func @static_strides(%x: memref<?x4xf64>, %y: memref<?x?xf64, strided<[?, 3], offset: ?>>, %i: index, %j: index) -> f64 {
  %a = memref.load %x[%i, %j] : memref<?x4xf64>
  %b = memref.load %y[%i, %j] : memref<?x?xf64, strided<[?, 3], offset: ?>>
  %c = arith.addf %a, %b : f64
  func.return %c : f64
}

// CHECK-LABEL: func.func @static_strides(
// CHECK:         %[[XP:.*]] = llvm.extractvalue %[[X:.*]][0]
// CHECK-NEXT:    %[[C4:.*]] = llvm.mlir.constant(4) : i64
// CHECK-NEXT:    %[[XO0:.*]] = llvm.mul %[[I:.*]], %[[C4]] : i64
// CHECK-NEXT:    %[[XO:.*]] = llvm.add %[[XO0]], %[[J:.*]] : i64
// CHECK-NEXT:    %[[XA:.*]] = llvm.getelementptr inbounds %[[XP]][%[[XO]]] : (!llvm.ptr, i64) -> !llvm.ptr, f64
// CHECK-NEXT:    %a = llvm.load %[[XA]] : !llvm.ptr -> f64
// CHECK:         %[[YP:.*]] = llvm.extractvalue %[[Y:.*]][0]
// CHECK-NEXT:    %[[S0:.*]] = llvm.extractvalue %[[Y]][2, 0]
// CHECK-NEXT:    %[[YO0:.*]] = llvm.mul %[[I]], %[[S0]] : i64
// CHECK-NEXT:    %[[C3:.*]] = llvm.mlir.constant(3) : i64
// CHECK-NEXT:    %[[YO1:.*]] = llvm.mul %[[J]], %[[C3]] : i64
// CHECK-NEXT:    %[[YO:.*]] = llvm.add %[[YO0]], %[[YO1]] : i64
// CHECK-NEXT:    %[[YA:.*]] = llvm.getelementptr inbounds %[[YP]][%[[YO]]] : (!llvm.ptr, i64) -> !llvm.ptr, f64
// CHECK-NEXT:    %b = llvm.load %[[YA]] : !llvm.ptr -> f64
