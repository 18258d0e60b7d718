// RUN: cofactor-opt %s -p lower-ub-to-llvm | filecheck %s

func.func @poisons() -> (f64, i64, memref<?xf64, strided<[?], offset: ?>>) {
  %a = ub.poison : f64
  %b = ub.poison : i64
  %c = ub.poison : memref<?xf64, strided<[?], offset: ?>>
  func.return %a, %b, %c : f64, i64, memref<?xf64, strided<[?], offset: ?>>
}

// CHECK:      %a = llvm.mlir.undef : f64
// CHECK-NEXT: %b = llvm.mlir.undef : i64
// CHECK-NEXT: %0 = llvm.mlir.undef : !llvm.struct<(!llvm.ptr, !llvm.array<1 x i64>, !llvm.array<1 x i64>)>
// CHECK-NEXT: %c = builtin.unrealized_conversion_cast %0 : !llvm.struct<(!llvm.ptr, !llvm.array<1 x i64>, !llvm.array<1 x i64>)> to memref<?xf64, strided<[?], offset: ?>>
// CHECK-NEXT: func.return %a, %b, %c
