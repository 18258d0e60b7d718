// RUN: cofactor-opt %s -p lower-memref-to-llvm | filecheck %s

// Element [i, j] is at ptr + i*stride0 + j*stride1, a GEP with the element type.
func.func @load2d(%x: memref<?x?xf64, strided<[?, ?], offset: ?>>, %i: index, %j: index) -> f64 {
  %v = memref.load %x[%i, %j] : memref<?x?xf64, strided<[?, ?], offset: ?>>
  func.return %v : f64
}

// CHECK-LABEL: func.func @load2d(
// CHECK-DAG:     %[[J:.*]] = builtin.unrealized_conversion_cast %j : index to i64
// CHECK-DAG:     %[[I:.*]] = builtin.unrealized_conversion_cast %i : index to i64
// CHECK-DAG:     %[[X:.*]] = builtin.unrealized_conversion_cast %x : memref<?x?xf64, strided<[?, ?], offset: ?>> to !llvm.struct<(!llvm.ptr, !llvm.array<2 x i64>, !llvm.array<2 x i64>)>
// CHECK:         %[[P:.*]] = llvm.extractvalue %[[X]][0]
// CHECK-NEXT:    %[[S0:.*]] = llvm.extractvalue %[[X]][2, 0]
// CHECK-NEXT:    %[[O0:.*]] = llvm.mul %[[I]], %[[S0]] : i64
// CHECK-NEXT:    %[[S1:.*]] = llvm.extractvalue %[[X]][2, 1]
// CHECK-NEXT:    %[[O1:.*]] = llvm.mul %[[J]], %[[S1]] : i64
// CHECK-NEXT:    %[[O:.*]] = llvm.add %[[O0]], %[[O1]] : i64
// CHECK-NEXT:    %[[A:.*]] = llvm.getelementptr inbounds %[[P]][%[[O]]] : (!llvm.ptr, i64) -> !llvm.ptr, f64
// CHECK-NEXT:    %v = llvm.load %[[A]] : !llvm.ptr -> f64
// CHECK-NEXT:    func.return %v : f64

// An index already lowered to i64 (by lower-arith-to-llvm) is used directly;
// a NumPy bool is one byte in memory.
func.func @store_bool(%x: memref<?xi1, strided<[?], offset: ?>>, %i64: i64, %v: i1) {
  %i = builtin.unrealized_conversion_cast %i64 : i64 to index
  memref.store %v, %x[%i] : memref<?xi1, strided<[?], offset: ?>>
  %w = memref.load %x[%i] : memref<?xi1, strided<[?], offset: ?>>
  func.return
}

// CHECK-LABEL: func.func @store_bool(
// CHECK-NOT:     unrealized_conversion_cast %i64
// CHECK:         %[[B:.*]] = llvm.zext %v : i1 to i8
// CHECK:         %[[O:.*]] = llvm.mul %i64, %{{.*}} : i64
// CHECK-NEXT:    %[[A:.*]] = llvm.getelementptr inbounds %{{.*}}[%[[O]]] : (!llvm.ptr, i64) -> !llvm.ptr, i8
// CHECK-NEXT:    llvm.store %[[B]], %[[A]] : i8, !llvm.ptr
// CHECK:         %[[L:.*]] = llvm.load %{{.*}} : !llvm.ptr -> i8
// CHECK-NEXT:    %[[Z:.*]] = llvm.mlir.constant(0 : i8) : i8
// CHECK-NEXT:    %w = llvm.icmp "ne" %[[L]], %[[Z]] : i8
// CHECK-NEXT:    func.return

// A constant axis reads the size field; a dynamic one selects among them.
func.func @dims(%x: memref<?x?xf32, strided<[?, ?], offset: ?>>, %k: index) -> (index, index) {
  %c1 = arith.constant 1 : index
  %a = memref.dim %x, %c1 : memref<?x?xf32, strided<[?, ?], offset: ?>>
  %b = memref.dim %x, %k : memref<?x?xf32, strided<[?, ?], offset: ?>>
  func.return %a, %b : index, index
}

// CHECK-LABEL: func.func @dims(
// CHECK-NEXT:    %[[K:.*]] = builtin.unrealized_conversion_cast %k : index to i64
// CHECK-NEXT:    %[[X:.*]] = builtin.unrealized_conversion_cast %x
// CHECK-NEXT:    %c1 = arith.constant 1 : index
// CHECK-NEXT:    %[[A:.*]] = llvm.extractvalue %[[X]][1, 1]
// CHECK-NEXT:    %a = builtin.unrealized_conversion_cast %[[A]] : i64 to index
// CHECK-NEXT:    %[[S1:.*]] = llvm.extractvalue %[[X]][1, 1]
// CHECK-NEXT:    %[[Z:.*]] = llvm.mlir.constant(0) : i64
// CHECK-NEXT:    %[[IS0:.*]] = llvm.icmp "eq" %[[K]], %[[Z]] : i64
// CHECK-NEXT:    %[[S0:.*]] = llvm.extractvalue %[[X]][1, 0]
// CHECK-NEXT:    %[[B:.*]] = llvm.select %[[IS0]], %[[S0]], %[[S1]] : i1, i64
// CHECK-NEXT:    %b = builtin.unrealized_conversion_cast %[[B]] : i64 to index
// CHECK-NEXT:    func.return %a, %b : index, index

// alloc: nbytes = 8 * n * m, row-major strides [m, 1], memory from the
// runtime through the call context; cast is free; dealloc frees the pointer.
func.func @temporary(%n: index, %m: index) {
  %t = memref.alloc(%n, %m) : memref<?x?xf64>
  %s = "memref.cast"(%t) : (memref<?x?xf64>) -> memref<?x?xf64, strided<[?, ?], offset: ?>>
  %c0 = arith.constant 0 : index
  %v = memref.load %s[%c0, %c0] : memref<?x?xf64, strided<[?, ?], offset: ?>>
  memref.dealloc %t : memref<?x?xf64>
  func.return
}

// CHECK-LABEL: func.func @temporary(
// CHECK-NEXT:    %[[CTX:.*]] = rt.ctx : !llvm.ptr
// CHECK-NEXT:    %[[M:.*]] = builtin.unrealized_conversion_cast %m : index to i64
// CHECK-NEXT:    %[[N:.*]] = builtin.unrealized_conversion_cast %n : index to i64
// CHECK-NEXT:    %[[ONE:.*]] = llvm.mlir.constant(1) : i64
// CHECK-NEXT:    %[[EIGHT:.*]] = llvm.mlir.constant(8) : i64
// CHECK-NEXT:    %[[B1:.*]] = llvm.mul %[[EIGHT]], %[[N]] : i64
// CHECK-NEXT:    %[[B2:.*]] = llvm.mul %[[B1]], %[[M]] : i64
// CHECK-NEXT:    %[[P:.*]] = llvm.call @cofactor_alloc(%[[CTX]], %[[B2]]) : (!llvm.ptr, i64) -> !llvm.ptr
// CHECK-NEXT:    %[[D0:.*]] = llvm.mlir.undef : !llvm.struct<(!llvm.ptr, !llvm.array<2 x i64>, !llvm.array<2 x i64>)>
// CHECK-NEXT:    %[[D1:.*]] = llvm.insertvalue %[[P]], %[[D0]][0]
// CHECK-NEXT:    %[[D2:.*]] = llvm.insertvalue %[[N]], %[[D1]][1, 0]
// CHECK-NEXT:    %[[D3:.*]] = llvm.insertvalue %[[M]], %[[D2]][1, 1]
// CHECK-NEXT:    %[[D4:.*]] = llvm.insertvalue %[[M]], %[[D3]][2, 0]
// CHECK-NEXT:    %[[D:.*]] = llvm.insertvalue %[[ONE]], %[[D4]][2, 1]
// CHECK-NEXT:    %c0 = arith.constant 0 : index
// CHECK-NEXT:    builtin.unrealized_conversion_cast %c0 : index to i64
// CHECK-NEXT:    llvm.extractvalue %[[D]][0]
// CHECK:         %v = llvm.load
// CHECK-NEXT:    %[[F:.*]] = llvm.extractvalue %[[D]][0]
// CHECK-NEXT:    llvm.call @cofactor_free(%[[CTX]], %[[F]]) : (!llvm.ptr, !llvm.ptr) -> ()
// CHECK-NEXT:    func.return

// subview: ptr advanced by sum(offset_k * stride_k), strides scaled by the
// steps; the rank-reducing form drops the unit dimension.
func.func @subviews(%x: memref<?x?xf64, strided<[?, ?], offset: ?>>, %o: index, %n: index, %s: index) -> (memref<?x?xf64, strided<[?, ?], offset: ?>>, memref<?xf64, strided<[?], offset: ?>>) {
  %a = memref.subview %x[%o, 2] [%n, %n] [%s, 1] : memref<?x?xf64, strided<[?, ?], offset: ?>> to memref<?x?xf64, strided<[?, ?], offset: ?>>
  %b = memref.subview %x[%o, 0] [1, %n] [1, %s] : memref<?x?xf64, strided<[?, ?], offset: ?>> to memref<?xf64, strided<[?], offset: ?>>
  func.return %a, %b : memref<?x?xf64, strided<[?, ?], offset: ?>>, memref<?xf64, strided<[?], offset: ?>>
}

// CHECK-LABEL: func.func @subviews(
// CHECK:         %[[TWO:.*]] = llvm.mlir.constant(2) : i64
// CHECK-NEXT:    %[[ONE:.*]] = llvm.mlir.constant(1) : i64
// CHECK-NEXT:    %[[S0:.*]] = llvm.extractvalue %[[X:.*]][2, 0]
// CHECK-NEXT:    %[[S1:.*]] = llvm.extractvalue %[[X]][2, 1]
// CHECK-NEXT:    %[[A0:.*]] = llvm.mul %[[O:.*]], %[[S0]] : i64
// CHECK-NEXT:    %[[A1:.*]] = llvm.mul %[[TWO]], %[[S1]] : i64
// CHECK-NEXT:    %[[OFF:.*]] = llvm.add %[[A0]], %[[A1]] : i64
// CHECK-NEXT:    %[[P:.*]] = llvm.extractvalue %[[X]][0]
// CHECK-NEXT:    %[[Q:.*]] = llvm.getelementptr %[[P]][%[[OFF]]] : (!llvm.ptr, i64) -> !llvm.ptr, f64
// CHECK-NEXT:    %[[T0:.*]] = llvm.mul %[[S0]], %[[S:.*]] : i64
// CHECK-NEXT:    %[[T1:.*]] = llvm.mul %[[S1]], %[[ONE]] : i64
// CHECK-NEXT:    llvm.mlir.undef : !llvm.struct<(!llvm.ptr, !llvm.array<2 x i64>, !llvm.array<2 x i64>)>
// CHECK-NEXT:    llvm.insertvalue %[[Q]], %{{.*}}[0]
// CHECK-NEXT:    llvm.insertvalue %[[N:.*]], %{{.*}}[1, 0]
// CHECK-NEXT:    llvm.insertvalue %[[N]], %{{.*}}[1, 1]
// CHECK-NEXT:    llvm.insertvalue %[[T0]], %{{.*}}[2, 0]
// CHECK-NEXT:    llvm.insertvalue %[[T1]], %{{.*}}[2, 1]
// CHECK:         llvm.mlir.undef : !llvm.struct<(!llvm.ptr, !llvm.array<1 x i64>, !llvm.array<1 x i64>)>
// CHECK-NEXT:    llvm.insertvalue %{{.*}}, %{{.*}}[0]
// CHECK-NEXT:    llvm.insertvalue %[[N]], %{{.*}}[1, 0]
// CHECK-NEXT:    llvm.insertvalue %{{.*}}, %{{.*}}[2, 0]
// CHECK-NEXT:    %b = builtin.unrealized_conversion_cast %{{.*}} : !llvm.struct<(!llvm.ptr, !llvm.array<1 x i64>, !llvm.array<1 x i64>)> to memref<?xf64, strided<[?], offset: ?>>
// CHECK-NEXT:    func.return %a, %b

// CHECK:       llvm.func @cofactor_alloc(!llvm.ptr, i64) -> !llvm.ptr
// CHECK-NEXT:  llvm.func @cofactor_free(!llvm.ptr, !llvm.ptr)
